"""Generated from proto/samenloop/v1 by `make proto`. Do not edit."""
