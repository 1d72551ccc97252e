"""Runs last: the provider's logs from the whole session hold no ResponseURL signature or secret."""
import json


def test_logs_of_the_whole_run_hold_no_response_url_signature_or_secret(log_dir):
    text = (log_dir / "provider.log").read_text()
    assert text, "the provider logged"
    for secret in ("X-Amz-Signature=", "X-Amz-Credential=", "secret-signature", "testing"):
        assert secret not in text, secret
    for line in text.splitlines():
        json.loads(line)
