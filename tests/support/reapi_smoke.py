#!/usr/bin/env python3
"""Smoke test of the REAPI test cluster (scripts/reapi-cluster.sh).

Run with the cluster's Python, which has grpc and BuildGrid's protos:

    scripts/reapi-cluster.sh start "$S"
    . "$S/env" && "$TWICE_REAPI_PYTHON" tests/support/reapi_smoke.py "$S/env"
    scripts/reapi-cluster.sh stop "$S"

It uploads a tiny input root and checks, through the REAPI v2 Execution, CAS
and Capabilities services: two runs of one action with do_not_cache and
distinct salts (both executed, both with output digests), the exact
environment, the variations the bots advertise (TWICE_REAPI_VARIATIONS), a
failing command (an ActionResult with its exit code), a missing input blob
(FAILED_PRECONDITION with a MISSING violation), a timeout (DEADLINE_EXCEEDED),
two bots working in parallel, and the median Execute round trip. Test support
only, like the bot: twice's own client is the Rust one.
"""

import concurrent.futures
import datetime
import hashlib
import os
import statistics
import sys
import time
import uuid

import grpc
from google.protobuf import duration_pb2

from buildgrid._protos.build.bazel.remote.execution.v2 import (
    remote_execution_pb2 as re_pb2,
    remote_execution_pb2_grpc as re_grpc,
)
from buildgrid._protos.google.bytestream import bytestream_pb2, bytestream_pb2_grpc
from buildgrid._protos.google.longrunning import operations_pb2, operations_pb2_grpc
from buildgrid._protos.google.rpc import code_pb2, error_details_pb2

BUILD_SH = b"""#!/bin/sh
set -e
mkdir -p out
cp src/hello.txt out/hello.txt
date -u +%Y > out/year.txt
hostname > out/host.txt
ls -U src/many > out/order.txt
test -x build.sh && echo yes > out/exec.txt
readlink tool > out/readlink.txt
test -d empty && echo yes > out/empty.txt
ln -s hello.txt out/link
pwd > out/pwd.txt
echo built > log.txt
echo built
"""


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                if len(v) >= 2 and v[0] == v[-1] == "'":
                    v = v[1:-1]
                env[k] = v
    return env


def digest(data):
    return re_pb2.Digest(hash=hashlib.sha256(data).hexdigest(), size_bytes=len(data))


class Client:
    def __init__(self, url, instance):
        target = url.split("://", 1)[-1]
        self.channel = grpc.insecure_channel(target)
        self.instance = instance
        self.cas = re_grpc.ContentAddressableStorageStub(self.channel)
        self.exec = re_grpc.ExecutionStub(self.channel)
        self.bytestream = bytestream_pb2_grpc.ByteStreamStub(self.channel)
        self.operations = operations_pb2_grpc.OperationsStub(self.channel)
        self.caps = re_grpc.CapabilitiesStub(self.channel).GetCapabilities(
            re_pb2.GetCapabilitiesRequest(instance_name=instance), timeout=30)

    def upload(self, blobs):
        req = re_pb2.BatchUpdateBlobsRequest(instance_name=self.instance)
        for data in blobs:
            if len(data) > 1 << 20:
                self.write_stream(data)
            else:
                req.requests.add(digest=digest(data), data=data)
        for r in self.cas.BatchUpdateBlobs(req, timeout=30).responses:
            assert r.status.code == code_pb2.OK, r.status

    def write_stream(self, data):
        d = digest(data)
        name = f"{self.instance}/uploads/{uuid.uuid4()}/blobs/{d.hash}/{d.size_bytes}".lstrip("/")
        step = 1 << 20

        def chunks():
            for off in range(0, len(data), step):
                yield bytestream_pb2.WriteRequest(resource_name=name, write_offset=off, data=data[off:off + step],
                                                  finish_write=off + step >= len(data))

        resp = self.bytestream.Write(chunks(), timeout=60)
        assert resp.committed_size == len(data), resp

    def read_stream(self, d):
        name = f"{self.instance}/blobs/{d.hash}/{d.size_bytes}".lstrip("/")
        return b"".join(r.data for r in self.bytestream.Read(bytestream_pb2.ReadRequest(resource_name=name),
                                                              timeout=60))

    def read(self, d):
        resp = self.cas.BatchReadBlobs(re_pb2.BatchReadBlobsRequest(instance_name=self.instance, digests=[d]),
                                       timeout=30)
        r = resp.responses[0]
        assert r.status.code == code_pb2.OK, f"read {d.hash}: {r.status}"
        return r.data

    def tree(self, spec, blobs):
        """spec: {name: bytes | (bytes, executable) | {...} | ("symlink", target)} → root Digest."""
        msg = re_pb2.Directory()
        for name in sorted(spec):
            v = spec[name]
            if isinstance(v, dict):
                msg.directories.add(name=name, digest=self.tree(v, blobs))
            elif isinstance(v, tuple) and v[0] == "symlink":
                msg.symlinks.add(name=name, target=v[1])
            elif isinstance(v, tuple) and v[0] == "missing":
                msg.files.add(name=name, digest=digest(v[1]))  # never uploaded
            else:
                data, exe = v if isinstance(v, tuple) else (v, False)
                blobs.append(data)
                msg.files.add(name=name, digest=digest(data), is_executable=exe)
        data = msg.SerializeToString(deterministic=True)
        blobs.append(data)
        return digest(data)

    def action(self, args, root=None, env=None, output_files=(), output_directories=(), output_paths=(),
               platform=(), salt=None, timeout=None, blobs=None):
        blobs = [] if blobs is None else blobs
        root = root or self.tree({}, blobs)
        cmd = re_pb2.Command(arguments=args, output_files=output_files, output_directories=output_directories,
                             output_paths=output_paths)
        for k, v in sorted((env or {"PATH": "/usr/bin:/bin"}).items()):
            cmd.environment_variables.add(name=k, value=v)
        plat = re_pb2.Platform()
        for k, v in sorted(platform):
            plat.properties.add(name=k, value=v)
        cmd_data = cmd.SerializeToString(deterministic=True)
        blobs.append(cmd_data)
        act = re_pb2.Action(command_digest=digest(cmd_data), input_root_digest=root, do_not_cache=True,
                            salt=(salt or uuid.uuid4().hex).encode(), platform=plat)
        if timeout:
            act.timeout.CopyFrom(duration_pb2.Duration(seconds=timeout))
        act_data = act.SerializeToString(deterministic=True)
        blobs.append(act_data)
        self.upload(blobs)
        return digest(act_data)

    def execute(self, action_digest, deadline=60):
        t0 = time.monotonic()
        last = None
        for op in self.exec.Execute(re_pb2.ExecuteRequest(instance_name=self.instance, action_digest=action_digest,
                                                          skip_cache_lookup=True), timeout=deadline):
            last = op
        elapsed = time.monotonic() - t0
        assert last is not None and last.done, "Execute stream ended without a finished operation"
        assert not last.HasField("error"), f"operation error: {last.error}"
        resp = re_pb2.ExecuteResponse()
        last.response.Unpack(resp)
        return resp, elapsed, last.name

    def file_in_tree(self, tree_digest, path):
        tree = re_pb2.Tree.FromString(self.read(tree_digest))
        dirs = {digest(d.SerializeToString(deterministic=True)).hash: d for d in tree.children}
        node = tree.root
        *parents, name = path.split("/")
        for p in parents:
            node = dirs[next(d.digest.hash for d in node.directories if d.name == p)]
        for f in node.files:
            if f.name == name:
                return self.read(f.digest)
        for s in node.symlinks:
            if s.name == name:
                return ("symlink", s.target)
        raise AssertionError(f"{path} not in the output tree")


class Smoke:
    def __init__(self, client, variations, exec_root):
        self.c = client
        self.variations = variations
        self.exec_root = exec_root
        self.passed = self.failed = 0
        self.timings = []

    def check(self, name, fn):
        t0 = time.monotonic()
        try:
            note = fn()
            self.passed += 1
            print(f"ok - {name} ({time.monotonic() - t0:.2f} s){': ' + note if note else ''}", flush=True)
        except Exception as e:  # report and go on with the other checks
            self.failed += 1
            print(f"FAILED - {name}: {type(e).__name__}: {e}", flush=True)

    def input_root(self, blobs):
        return self.c.tree({
            "build.sh": (BUILD_SH, True),
            "tool": ("symlink", "build.sh"),
            "empty": {},
            "src": {"hello.txt": b"hello, cluster\n",
                    "many": {n: n.encode() for n in ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot")}},
        }, blobs)

    def capabilities(self):
        caps = self.c.caps
        fns = caps.cache_capabilities.digest_functions
        assert re_pb2.DigestFunction.SHA256 in fns, fns
        assert caps.execution_capabilities.exec_enabled
        return f"SHA-256, max batch {caps.cache_capabilities.max_batch_total_size_bytes} bytes"

    def twice(self):
        blobs = []
        root = self.input_root(blobs)
        results = []
        for salt in ("run-1", "run-2"):
            a = self.c.action(["./build.sh"], root=root, output_directories=["out"], output_files=["log.txt"],
                              salt=salt + uuid.uuid4().hex, blobs=list(blobs))
            resp, elapsed, name = self.c.execute(a)
            self.timings.append(elapsed)
            assert resp.status.code == code_pb2.OK, resp.status
            assert not resp.cached_result
            r = resp.result
            assert r.exit_code == 0, (r.exit_code, self.c.read(r.stderr_digest))
            assert [d.path for d in r.output_directories] == ["out"] and r.output_directories[0].tree_digest.hash
            assert [f.path for f in r.output_files] == ["log.txt"] and r.output_files[0].digest.hash
            assert self.c.read(r.stdout_digest) == b"built\n"
            results.append((name, r))
        (n1, r1), (n2, r2) = results
        assert n1 != n2, "both runs came back from one operation"
        tree = r1.output_directories[0].tree_digest
        assert self.c.file_in_tree(tree, "hello.txt") == b"hello, cluster\n"
        assert self.c.file_in_tree(tree, "exec.txt") == b"yes\n", "build.sh lost its executable bit"
        assert self.c.file_in_tree(tree, "readlink.txt") == b"build.sh\n", "symlink input not materialised"
        assert self.c.file_in_tree(tree, "empty.txt") == b"yes\n", "empty directory not materialised"
        assert self.c.file_in_tree(tree, "link") == ("symlink", "hello.txt")
        self.baseline = r1
        workers = {r.execution_metadata.worker for _, r in results}
        pwds = {self.c.file_in_tree(r.output_directories[0].tree_digest, "pwd.txt").decode().strip()
                for _, r in results}
        if self.exec_root:
            assert pwds == {self.exec_root}, f"commands ran at {pwds}, not at {self.exec_root}"
            where = f"exec root {self.exec_root}"
        else:
            where = f"exec roots {', '.join(sorted(pwds))} (no shared path: bots without namespaces)"
        return f"tree {tree.hash[:12]}…, workers {', '.join(sorted(workers))}, {where}"

    def environment(self):
        a = self.c.action(["/usr/bin/env"], env={"PATH": "/usr/bin:/bin", "TWICE_SMOKE": "a b=c"})
        resp, elapsed, _ = self.c.execute(a)
        self.timings.append(elapsed)
        assert resp.status.code == code_pb2.OK and resp.result.exit_code == 0, resp
        got = sorted(self.c.read(resp.result.stdout_digest).decode().splitlines())
        assert got == ["PATH=/usr/bin:/bin", "TWICE_SMOKE=a b=c"], got
        return "exactly the declared variables"

    def variation(self):
        if not self.variations:
            return "skipped: the bots advertise no variation"
        blobs = []
        root = self.input_root(blobs)
        props = [("twice-variations", v) for v in self.variations]
        offset = 400 * 86400
        if "faketime" in self.variations:
            props.append(("twice-faketime", f"+{offset}"))
        if "hostname" in self.variations:
            props.append(("twice-hostname", "twice-smoke"))
        if "file-order" in self.variations:
            props.append(("twice-file-order", "reverse"))
        a = self.c.action(["./build.sh"], root=root, output_paths=["out"], platform=props, blobs=blobs)
        resp, elapsed, _ = self.c.execute(a)
        self.timings.append(elapsed)
        assert resp.status.code == code_pb2.OK, resp.status
        r = resp.result
        assert r.exit_code == 0, self.c.read(r.stderr_digest)
        assert [d.path for d in r.output_directories] == ["out"], r
        tree = r.output_directories[0].tree_digest
        base = self.baseline.output_directories[0].tree_digest
        notes = []
        if "faketime" in self.variations:
            want = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset)).year
            got = int(self.c.file_in_tree(tree, "year.txt"))
            assert got == want, (got, want)
            notes.append(f"year {got}")
        if "hostname" in self.variations:
            got = self.c.file_in_tree(tree, "host.txt")
            assert got == b"twice-smoke\n", got
            notes.append("hostname twice-smoke")
        if "file-order" in self.variations:
            plain = self.c.file_in_tree(base, "order.txt").split()
            got = self.c.file_in_tree(tree, "order.txt").split()
            assert got == plain[::-1], (plain, got)
            notes.append("order " + " ".join(x.decode()[0] for x in got))
        return ", ".join(notes)

    def unsupported(self):
        missing = sorted({"faketime", "file-order", "hostname"} - set(self.variations))
        if not missing:
            return "skipped: every variation is supported"
        key = {"faketime": ("twice-faketime", "+60"), "file-order": ("twice-file-order", "reverse"),
               "hostname": ("twice-hostname", "x")}[missing[0]]
        a = self.c.action(["/bin/true"], platform=[key])
        resp, _, _ = self.c.execute(a)
        assert resp.status.code == code_pb2.FAILED_PRECONDITION, resp.status
        return f"{key[0]}: {resp.status.message}"

    def failing(self):
        a = self.c.action(["/bin/sh", "-c", "echo oops >&2; exit 3"])
        resp, elapsed, _ = self.c.execute(a)
        self.timings.append(elapsed)
        assert resp.status.code == code_pb2.OK, resp.status
        assert resp.result.exit_code == 3, resp.result
        assert self.c.read(resp.result.stderr_digest) == b"oops\n"
        return "exit code 3 in the ActionResult"

    def missing_input(self):
        blobs = []
        lost = b"never uploaded " + uuid.uuid4().hex.encode()
        root = self.c.tree({"in.txt": ("missing", lost)}, blobs)
        a = self.c.action(["/bin/cat", "in.txt"], root=root, blobs=blobs)
        resp, _, _ = self.c.execute(a)
        assert resp.status.code == code_pb2.FAILED_PRECONDITION, resp.status
        d = digest(lost)
        subjects = []
        for detail in resp.status.details:
            pf = error_details_pb2.PreconditionFailure()
            if detail.Unpack(pf):
                subjects += [(v.type, v.subject) for v in pf.violations]
        assert ("MISSING", f"blobs/{d.hash}/{d.size_bytes}") in subjects, (resp.status, subjects)
        return f"MISSING blobs/{d.hash[:12]}…/{d.size_bytes}"

    def large_blobs(self):
        big = os.urandom(3 << 20) * 2  # 6 MiB: above the batch limit both ways
        blobs = []
        root = self.c.tree({"big.bin": big}, blobs)
        a = self.c.action(["/bin/cp", "big.bin", "copy.bin"], root=root, output_files=["copy.bin"], blobs=blobs)
        resp, elapsed, _ = self.c.execute(a)
        assert resp.status.code == code_pb2.OK and resp.result.exit_code == 0, resp
        out = resp.result.output_files[0].digest
        assert out == digest(big), out
        assert self.c.read_stream(out) == big
        return f"6 MiB in and out through ByteStream in {elapsed:.2f} s"

    def cancel(self):
        marker = f"{37 + time.time() % 1:.6f}"  # a sleep argument no other process has
        a = self.c.action(["/bin/sleep", marker])
        stream = self.c.exec.Execute(re_pb2.ExecuteRequest(instance_name=self.c.instance, action_digest=a,
                                                           skip_cache_lookup=True), timeout=60)
        first = next(stream)

        def running():
            for pid in os.listdir("/proc"):
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        if marker.encode() in f.read():
                            return True
                except OSError:
                    pass
            return False

        deadline = time.monotonic() + 20
        while not running():
            assert time.monotonic() < deadline, "the action never started"
            time.sleep(0.1)
        t0 = time.monotonic()
        self.c.operations.CancelOperation(operations_pb2.CancelOperationRequest(name=first.name), timeout=10)
        last = first
        try:
            for op in stream:
                last = op
        except grpc.RpcError as e:
            last = e
        while running():
            assert time.monotonic() - t0 < 20, "the cancelled command still runs after 20 s"
            time.sleep(0.1)
        what = last.code().name if isinstance(last, grpc.RpcError) else (
            code_pb2.Code.Name(last.error.code) if last.HasField("error") else "done")
        return f"command gone {time.monotonic() - t0:.1f} s after CancelOperation (stream: {what})"

    def timeout(self):
        a = self.c.action(["/bin/sleep", "30"], timeout=1)
        resp, elapsed, _ = self.c.execute(a)
        assert resp.status.code == code_pb2.DEADLINE_EXCEEDED, resp.status
        assert elapsed < 20, elapsed
        return f"DEADLINE_EXCEEDED after {elapsed:.1f} s"

    def parallel(self):
        n = 4
        actions = [self.c.action(["/bin/sleep", "1"]) for _ in range(n)]
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(n) as pool:
            resps = list(pool.map(lambda a: self.c.execute(a)[0], actions))
        wall = time.monotonic() - t0
        assert all(r.status.code == code_pb2.OK and r.result.exit_code == 0 for r in resps)
        workers = {r.result.execution_metadata.worker for r in resps}
        return f"{n} × sleep 1 in {wall:.1f} s on {len(workers)} worker(s)"

    def latency(self, runs):
        for _ in range(runs):
            resp, elapsed, _ = self.c.execute(self.c.action(["/bin/true"]))
            assert resp.status.code == code_pb2.OK and resp.result.exit_code == 0
            self.timings.append(elapsed)
        t = sorted(self.timings)
        return (f"Execute round trip over {len(t)} runs: median {statistics.median(t):.3f} s, "
                f"min {t[0]:.3f} s, max {t[-1]:.3f} s")


def main():
    env = dict(os.environ)
    if len(sys.argv) > 1:
        env.update(read_env(sys.argv[1]))
    if "TWICE_REAPI_URL" not in env:
        sys.exit("usage: reapi_smoke.py STATE_DIR/env   (or set TWICE_REAPI_URL and TWICE_REAPI_INSTANCE)")
    runs = int(env.get("TWICE_REAPI_SMOKE_RUNS", "10"))
    variations = [v for v in env.get("TWICE_REAPI_VARIATIONS", "").split(",") if v]
    print(f"# {env['TWICE_REAPI_URL']} instance '{env.get('TWICE_REAPI_INSTANCE', '')}', "
          f"variations: {', '.join(variations) or 'none'}", flush=True)
    smoke = Smoke(Client(env["TWICE_REAPI_URL"], env.get("TWICE_REAPI_INSTANCE", "")), variations,
                  env.get("TWICE_REAPI_EXEC_ROOT", ""))
    smoke.check("capabilities", smoke.capabilities)
    smoke.check("one action twice (do_not_cache, distinct salts)", smoke.twice)
    smoke.check("exact environment", smoke.environment)
    smoke.check("variation properties", smoke.variation)
    smoke.check("unsupported variation", smoke.unsupported)
    smoke.check("failing command", smoke.failing)
    smoke.check("missing input blob", smoke.missing_input)
    smoke.check("action timeout", smoke.timeout)
    smoke.check("large blobs", smoke.large_blobs)
    smoke.check("cancel", smoke.cancel)
    smoke.check("parallel actions", smoke.parallel)
    smoke.check("latency", lambda: smoke.latency(runs))
    print(f"{smoke.passed} passed, {smoke.failed} failed")
    sys.exit(1 if smoke.failed else 0)


if __name__ == "__main__":
    main()
