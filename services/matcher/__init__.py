"""The central matcher: pseudonymous signal store, co-occurrence detection, alerts, reveal routing.

Functional core (pure decisions in `validation`, `policies.trigger`, `reveal.build_payload`) and
an imperative shell (`store`, `matching`, `alerts`, the gRPC servicers). See docs/matcher.md.
"""
