import json
from tests import factories
def test_peek(client, world):
    _, cert = factories.certify(client, world)
    print(json.dumps(cert, ensure_ascii=False, indent=1))
