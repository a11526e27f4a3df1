"""A pb.Master client that is not written in Rust: Python grpcio stubs
generated at run time from proto/dmmaster.proto (and the dmworker.proto it
imports). Calls ShowDDLLocks and UnlockDDLLock on the master given as
argv[1] and prints what it got as JSON for the Rust test to check."""

import json
import os
import sys
import tempfile

import grpc
from grpc_tools import protoc


def main():
    addr = sys.argv[1]
    proto_dir = os.path.join(os.path.dirname(__file__), "..", "..", "proto")
    out = tempfile.mkdtemp()
    rc = protoc.main(
        ["protoc", f"-I{proto_dir}", f"--python_out={out}", f"--grpc_python_out={out}",
         os.path.join(proto_dir, "dmmaster.proto"), os.path.join(proto_dir, "dmworker.proto")]
    )
    if rc != 0:
        raise SystemExit(f"protoc failed: {rc}")
    sys.path.insert(0, out)
    import dmmaster_pb2 as pb
    import dmmaster_pb2_grpc as rpc

    with grpc.insecure_channel(addr) as channel:
        stub = rpc.MasterStub(channel)
        shown = stub.ShowDDLLocks(pb.ShowDDLLocksRequest(task=sys.argv[2]), timeout=10)
        unlocked = stub.UnlockDDLLock(
            pb.UnlockDDLLockRequest(ID=sys.argv[3], forceRemove=True), timeout=30
        )
    print(json.dumps({
        "show": {
            "result": shown.result,
            "msg": shown.msg,
            "locks": [
                {"ID": l.ID, "task": l.task, "mode": l.mode, "owner": l.owner,
                 "DDLs": list(l.DDLs), "synced": list(l.synced), "unsynced": list(l.unsynced)}
                for l in shown.locks
            ],
        },
        "unlock": {"result": unlocked.result, "msg": unlocked.msg},
    }))


if __name__ == "__main__":
    main()
