"""The custom resource protocol, proven against the real binary under the Runtime API emulator."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness import ACCOUNT, STACK_ID, iam_snapshot

PROPS = {"ServiceName": "orders", "Stage": "prod", "Functions": [{"Name": "api"}]}


def test_1_success_is_answered_exactly_once(cfn):
    ev = cfn.event("Create", PROPS)
    kind, result = cfn.runtime.invoke(ev)
    assert kind == "response" and result["Status"] == "SUCCESS"
    answer = cfn.answer(ev)
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"].startswith("serverless-access:orders:prod:")


@pytest.mark.no_aws_calls  # refused before any AWS call: the proxy must see none
def test_1_an_event_of_the_wrong_shape_is_answered_failed(cfn):
    ev = cfn.event("Create", PROPS)
    ev["ResourceProperties"] = "not an object"
    ev["RequestType"] = ["Create"]
    answer = cfn.send(ev)
    assert answer["Status"] == "FAILED"
    assert "not a CloudFormation custom resource request" in answer["Reason"]
    assert answer["RequestId"] == ev["RequestId"] and answer["StackId"] == ev["StackId"]
    assert answer["LogicalResourceId"] == "Access"


@pytest.mark.no_aws_calls  # refused before any AWS call: the proxy must see none
def test_1_a_failure_is_answered_failed_with_a_reason(cfn):
    answer = cfn.create({"ServiceName": "orders", "Stage": "prod", "Functions": [{"Name": "api", "Statements": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}]})
    assert answer["Status"] == "FAILED"
    assert "function api statement 1" in answer["Reason"]


def test_1_the_deadline_is_answered_before_it_passes(cfn, iam):
    props = {"ServiceName": "orders", "Stage": "prod", "Functions": [{"Name": f"f{i}"} for i in range(150)]}
    ev = cfn.event("Create", props)
    started = time.time()
    # 20 s are kept back (calls in flight, then the answer): this leaves the work under a second.
    cfn.runtime.invoke(ev, timeout_s=60, deadline_s=20.6)
    elapsed = time.time() - started
    answer = cfn.answer(ev)
    assert elapsed < 20.6, elapsed
    assert answer["Status"] == "FAILED"
    assert "time ran out" in answer["Reason"] and "planned changes were applied" in answer["Reason"]
    # The rollback Delete removes whatever was made.
    done = cfn.delete(answer["PhysicalResourceId"], props)
    assert done["Status"] == "SUCCESS"
    snap = iam_snapshot(iam)
    assert snap == {"groups": {}, "roles": {}, "deployment_roles": {}, "policies": {}}


class Capture:
    """An HTTP server standing in for S3: records each PUT; fails the first `failures` with 500."""

    def __init__(self, failures):
        self.requests = []
        cap = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_PUT(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                cap.requests.append((dict(self.headers), body))
                code = 500 if len(cap.requests) <= failures else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cfn-responses/answer?X-Amz-Signature=secret-signature"


def test_2_the_put_has_empty_content_type_exact_length_and_is_retried_on_5xx(cfn):
    cap = Capture(failures=2)
    ev = cfn.event("Create", PROPS, response_url=cap.url)
    kind, result = cfn.runtime.invoke(ev)
    assert result["Status"] == "SUCCESS"
    assert len(cap.requests) == 3
    headers, body = cap.requests[-1]
    lower = {k.lower(): v for k, v in headers.items()}
    assert lower.get("content-type", "") == ""
    assert int(lower["content-length"]) == len(body)
    assert json.loads(body)["Status"] == "SUCCESS"


@pytest.mark.no_aws_calls  # refused before any AWS call: the proxy must see none
def test_3_the_body_stays_within_4096_bytes_whatever_the_input(cfn):
    bad = [{"Name": f"function-{i}", "Vpc": "maybe"} for i in range(300)]
    ev = cfn.event("Create", {"ServiceName": "orders", "Stage": "prod", "Functions": bad})
    cap = Capture(failures=0)
    ev["ResponseURL"] = cap.url
    cfn.runtime.invoke(ev)
    body = cap.requests[-1][1]
    assert len(body) <= 4096
    answer = json.loads(body)
    assert answer["Status"] == "FAILED" and answer["Reason"].endswith("(truncated)")
    assert answer["PhysicalResourceId"] and len(answer["PhysicalResourceId"]) <= 1024
    assert all(isinstance(v, str) for v in answer["Data"].values())


def test_3_a_success_with_hundreds_of_functions_fits_and_keeps_the_same_keys(cfn):
    props = {"ServiceName": "orders", "Stage": "prod", "Groups": [], "Functions": [{"Name": f"f{i}"} for i in range(120)]}
    cap = Capture(failures=0)
    ev = cfn.event("Create", props, response_url=cap.url)
    cfn.runtime.invoke(ev, timeout_s=300)
    first = json.loads(cap.requests[-1][1])
    assert len(cap.requests[-1][1]) <= 4096 and first["Status"] == "SUCCESS"
    assert "RoleArnPrefix" in first["Data"] and "Roles.f0.Arn" in first["Data"]
    again = cfn.event("Update", props, physical_id=first["PhysicalResourceId"], old_props=props, response_url=cap.url)
    cfn.runtime.invoke(again, timeout_s=300)
    second = json.loads(cap.requests[-1][1])
    assert sorted(second["Data"]) == sorted(first["Data"])


def test_4_physical_id_is_stable_in_place_and_changes_on_replacement(cfn):
    a = cfn.create(PROPS)
    props2 = dict(PROPS, Functions=[{"Name": "api"}, {"Name": "worker"}])
    b = cfn.update(a["PhysicalResourceId"], props2, PROPS)
    assert b["Status"] == "SUCCESS" and b["PhysicalResourceId"] == a["PhysicalResourceId"]
    props3 = dict(props2, Stage="prod2")
    c = cfn.update(b["PhysicalResourceId"], props3, props2)
    assert c["Status"] == "SUCCESS" and c["PhysicalResourceId"] != a["PhysicalResourceId"]


def test_4_a_failed_create_answers_an_id_its_delete_handles(cfn, iam):
    bad = {"ServiceName": "1-not-valid", "Stage": "prod"}
    a = cfn.create(bad)
    assert a["Status"] == "FAILED" and a["PhysicalResourceId"].startswith("serverless-access:invalid:")
    assert cfn.delete(a["PhysicalResourceId"], bad)["Status"] == "SUCCESS"
    half = {"ServiceName": "orders", "Stage": "prod", "Functions": [{"Name": "api", "Kms": ["Decrypt"]}]}
    b = cfn.create(half)
    assert b["Status"] == "FAILED" and "Kms needs KmsKeyArn" in b["Reason"]
    assert cfn.delete(b["PhysicalResourceId"], half)["Status"] == "SUCCESS"


def test_5_delete_is_idempotent_and_ignores_ids_it_never_issued(cfn, iam):
    a = cfn.create(PROPS)
    before_other = iam.create_group(GroupName="someone-elses", Path="/")
    assert cfn.delete(a["PhysicalResourceId"], PROPS)["Status"] == "SUCCESS"
    assert cfn.delete(a["PhysicalResourceId"], PROPS)["Status"] == "SUCCESS"
    foreign = cfn.delete("orders-access-Access-1A2B3C4D5E6F", PROPS)
    assert foreign["Status"] == "SUCCESS" and foreign["PhysicalResourceId"] == "orders-access-Access-1A2B3C4D5E6F"
    # Another resource's id (other logical id) is foreign too.
    other = cfn.create(PROPS)
    cfn.send(cfn.event("Delete", PROPS, physical_id=other["PhysicalResourceId"], logical_id="SomeoneElse"))
    assert iam_snapshot(iam)["roles"], "the other logical id's Delete touched nothing"
    assert iam.get_group(GroupName="someone-elses")["Group"]["GroupName"] == before_other["Group"]["GroupName"]


def test_6_a_duplicate_delivery_converges_to_the_same_answer(cfn):
    ev = cfn.event("Create", PROPS)
    first = cfn.send(ev)
    second = cfn.send(ev)
    assert first["Status"] == second["Status"] == "SUCCESS"
    assert first["PhysicalResourceId"] == second["PhysicalResourceId"]
    assert first["Data"] == second["Data"]


def test_7_scalars_arrive_as_strings_and_false_is_false(cfn, iam):
    props = {"ServiceName": "orders", "Stage": "prod", "ServiceTimeout": "300",
             "Functions": [{"Name": "api", "Vpc": "false", "Tracing": "true"}]}
    a = cfn.create(props)
    assert a["Status"] == "SUCCESS", a
    policy = json.dumps(next(iter(iam_snapshot(iam)["roles"].values()))["inline"])
    assert "ec2:CreateNetworkInterface" not in policy and "xray:PutTraceSegments" in policy
    bad = cfn.create({"ServiceName": "orders", "Stage": "dev", "Functions": [{"Name": "api", "Vpc": "yes"}]})
    assert bad["Status"] == "FAILED" and "function api: Vpc" in bad["Reason"]


@pytest.mark.no_aws_calls  # refused before any AWS call: the proxy must see none
def test_8_untrusted_response_urls_get_nothing_and_change_nothing(cfn, iam):
    ev = cfn.event("Create", PROPS, response_url="https://attacker.example.com/collect?X-Amz-Signature=x")
    kind, result = cfn.runtime.invoke(ev)
    assert result["Status"] == "REFUSED"
    assert iam_snapshot(iam) == {"groups": {}, "roles": {}, "deployment_roles": {}, "policies": {}}


def test_8_logs_are_json_with_request_fields_and_never_hold_the_response_url(cfn, log_dir):
    ev = cfn.event("Create", PROPS)
    cfn.send(ev)
    signature = ev["ResponseURL"].split("Signature=")[1].split("&")[0]
    lines = [l for l in (log_dir / "provider.log").read_text().splitlines() if ev["RequestId"] in l]
    assert lines, "the request was logged"
    for line in lines:
        record = json.loads(line)
        span = record.get("span", {})
        assert span.get("RequestId") == ev["RequestId"] and span.get("LogicalResourceId") == "Access"
        assert span.get("RequestType") == "Create"
    assert signature not in (log_dir / "provider.log").read_text()
