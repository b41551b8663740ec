"""`samenloop demo`: the whole system end to end on one machine (docs/demo.md).

deployment.py  the dev PKI plus the policies' teams and reviewer; configs with real ports
processes.py   the services as separate processes, logs in the work directory
policies.py    policies bound to their teams' keys, signed, published (through the policy CLI)
inputs.py      a synthetic city, or a directory of given data
flow.py        ingest, inquiries, disclosures through the gateways' and the inbox's interfaces
checks.py      scoring against truth.json; the scan for identities in logs and the database
run.py         the stages in order
report.py      the printed report and the --out JSON
"""
