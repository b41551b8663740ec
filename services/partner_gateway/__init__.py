"""The partner gateway: runs inside a partner's network, outbound connections only.

It reads the partner's exports (through `domain.formats`), keeps identities in an encrypted
local vault, pseudonymises through the pseudonymiser (`services.pseudonymiser.client`), sends
pseudonymous signals to the matcher, and answers signed reveal requests by sealing exactly the
fields a signed policy allows to the policy's recipient key.

Built so far: the export check (`samenloop gateway check`). The sending, vault and reveal
handling belong to the partner-gateway issue.
"""
