#!/usr/bin/env python3
"""A Remote Workers API (v1test2) bot for twice's REAPI test cluster.

TEST SUPPORT ONLY. This program is a stand-in for a build cluster's real
workers (buildbox-worker with buildbox-run, Buildbarn's bb_worker and
bb_runner, BuildBuddy's executor, ...), which no package registry that twice's
machines reach ships. It lets the integration tests and CI run actions on a
real BuildGrid server (see scripts/reapi-cluster.sh and tests/support/README.md).
It is not part of the product: `twice` itself is the Rust client.

What it does, per lease:
  * fetches the Action (the lease payload, or its digest) and the Command;
  * materialises the input root into a fresh directory (files with their
    executable bit, directories, symlinks);
  * runs Command.arguments in Command.working_directory with exactly
    Command.environment_variables, plus only what a requested variation needs
    (LD_PRELOAD/FAKETIME/NO_FAKE_STAT for twice-faketime);
  * uploads stdout, stderr and the outputs (output_paths, or output_files and
    output_directories as Tree messages) and completes the lease with an
    ActionResult.

Where the machine allows it (root, or unprivileged user namespaces), every
command runs in private mount, PID and (when asked) UTS namespaces, with its
exec root bind-mounted on one fixed path shared by all bots of a cluster
(--exec-root-path), so that two runs of an action see the same absolute path
whichever bot runs them, and nothing a command starts outlives it.

Variations a test can ask for through platform properties (values are
validated; a requested variation this bot cannot apply fails the action with
FAILED_PRECONDITION instead of being skipped silently):
  twice-faketime=SECONDS    shift the wall clock by a signed number of seconds
                            (libfaketime via LD_PRELOAD, FAKETIME=+N, NO_FAKE_STAT=1)
  twice-file-order=reverse|shuffle|sort
                            directory entry order of the exec root (disorderfs
                            mounted over it; needs FUSE, in practice root)
  twice-hostname=NAME       host name seen by the command (its own UTS namespace)
The bot advertises OSFamily=linux and one twice-variations=faketime|file-order|
hostname device property per variation it can apply; twice-variations is a
match key of the server, so an action that lists it only goes to such bots.
"""

import os
import sys


def _exec_helper(argv):
    """Runs inside the new namespaces: bind the exec root on the fixed path, set
    the host name, enter the working directory, then exec the command. Kept free
    of third-party imports and started with `python -I -S` so the command's
    environment cannot change how it behaves."""
    import ctypes
    import socket

    src, dst, wd, hostname, errfile, envfile = argv[:6]
    args = argv[7:]  # argv[6] is "--"

    def fail(msg):
        with open(errfile, "a") as f:
            f.write(msg + "\n")
        os._exit(127)

    libc = ctypes.CDLL(None, use_errno=True)
    ms_bind, ms_rec = 4096, 16384
    if libc.mount(src.encode(), dst.encode(), None, ms_bind | ms_rec, None) != 0:
        fail(f"bind mount of {src} on {dst} failed: {os.strerror(ctypes.get_errno())}")
    if hostname:
        try:
            socket.sethostname(hostname)
        except OSError as e:
            fail(f"sethostname({hostname}) failed: {e}")
    # In a user namespace (not root) unshare --keep-caps lent this helper the
    # capabilities it needed above; the command gets none of them.
    pr_cap_ambient, pr_cap_ambient_clear_all = 47, 4
    libc.prctl(pr_cap_ambient, pr_cap_ambient_clear_all, 0, 0, 0)
    try:
        os.chdir(os.path.join(dst, wd))
    except OSError as e:
        fail(f"cannot enter the working directory {wd!r}: {e}")
    # The command's environment comes from a file, not from this process: Python
    # changes its own (PEP 538 sets LC_CTYPE under the C locale).
    try:
        with open(envfile, "rb") as f:
            env = dict(e.split(b"=", 1) for e in f.read().split(b"\0") if e)
    except OSError as e:
        fail(f"cannot read the environment: {e}")
    try:
        os.execvpe(args[0], args, env)
    except OSError as e:
        # The command itself could not be started: report it like a shell would.
        sys.stderr.write(f"twice-bot: cannot execute {args[0]}: {e.strerror}\n")
        os._exit(126 if isinstance(e, PermissionError) else 127)


if __name__ == "__main__" and sys.argv[1:2] == ["--exec-helper"]:
    _exec_helper(sys.argv[2:])

import argparse  # noqa: E402
import glob  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import stat  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

import grpc  # noqa: E402
from google.protobuf import struct_pb2, timestamp_pb2  # noqa: E402

from buildgrid._protos.build.bazel.remote.execution.v2 import (  # noqa: E402
    remote_execution_pb2 as re_pb2,
    remote_execution_pb2_grpc as re_grpc,
)
from buildgrid._protos.google.bytestream import bytestream_pb2, bytestream_pb2_grpc  # noqa: E402
from buildgrid._protos.google.devtools.remoteworkers.v1test2 import (  # noqa: E402
    bots_pb2,
    bots_pb2_grpc,
    worker_pb2,
)
from buildgrid._protos.google.rpc import code_pb2, error_details_pb2, status_pb2  # noqa: E402

LOG = logging.getLogger("twice-bot")

MATCH_KEY = "twice-variations"
VARIATION_KEYS = {
    "twice-faketime": "faketime",
    "twice-file-order": "file-order",
    "twice-hostname": "hostname",
}
FILE_ORDERS = {
    "reverse": ["--reverse-dirents=yes", "--shuffle-dirents=no", "--sort-dirents=no"],
    "shuffle": ["--reverse-dirents=no", "--shuffle-dirents=yes", "--sort-dirents=no"],
    "sort": ["--reverse-dirents=no", "--shuffle-dirents=no", "--sort-dirents=yes"],
}
HOSTNAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,62})$")
FAKETIME_RE = re.compile(r"^[+-]?[0-9]{1,11}$")

CHUNK = 1 << 20  # ByteStream chunk size
RPC_TIMEOUT = 60.0  # CAS calls
IDLE_POLL = 20.0  # UpdateBotSession while idle (the server waits 80% of it for a lease)
HEARTBEAT = 2.0  # UpdateBotSession while a lease runs (and how soon a cancel is seen)
CREATE_TIMEOUT = 3.0  # short on purpose: under 3.75 s BuildGrid answers at once
RETRY_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED)


class ActionError(Exception):
    """Ends a lease with a non-OK status (and maybe a partial result)."""

    def __init__(self, code, message, details=(), partial=None):
        super().__init__(message)
        self.code = code
        self.details = list(details)
        self.partial = partial  # an ActionResult to return with the status


class MissingBlobs(ActionError):
    def __init__(self, digests, what="input"):
        digests = sorted({(d.hash, d.size_bytes) for d in digests})
        failure = error_details_pb2.PreconditionFailure()
        for h, n in digests:
            failure.violations.add(type="MISSING", subject=f"blobs/{h}/{n}", description=f"{what} blob not in the CAS")
        names = ", ".join(f"{h}/{n}" for h, n in digests[:5])
        more = f" and {len(digests) - 5} more" if len(digests) > 5 else ""
        super().__init__(code_pb2.FAILED_PRECONDITION, f"{len(digests)} {what} blob(s) missing from the CAS: {names}{more}",
                         [failure])


def now_ts():
    ts = timestamp_pb2.Timestamp()
    ts.GetCurrentTime()
    return ts


def digest_of_bytes(data):
    return re_pb2.Digest(hash=hashlib.sha256(data).hexdigest(), size_bytes=len(data))


def digest_of_file(path):
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return re_pb2.Digest(hash=h.hexdigest(), size_bytes=size)


def serialize(msg):
    return msg.SerializeToString(deterministic=True)


def rmtree(path):
    """Remove a tree even when the command left directories without write bits."""

    def onerror(func, p, _exc):
        try:
            os.chmod(os.path.dirname(p), 0o700)
            if os.path.isdir(p) and not os.path.islink(p):
                os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass

    if os.path.lexists(path):
        shutil.rmtree(path, onerror=onerror)


def check_name(name):
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise ActionError(code_pb2.INVALID_ARGUMENT, f"invalid name in input tree: {name!r}")
    return name


def check_relpath(path, what):
    """A relative path that stays inside the exec root, normalised ('' → '.')."""
    if path.startswith("/") or "\0" in path:
        raise ActionError(code_pb2.INVALID_ARGUMENT, f"{what} must be relative: {path!r}")
    norm = os.path.normpath(path) if path else "."
    if norm == ".." or norm.startswith("../"):
        raise ActionError(code_pb2.INVALID_ARGUMENT, f"{what} leaves the exec root: {path!r}")
    return norm


class Cas:
    """The CAS and ByteStream calls the bot needs, with a local file cache."""

    def __init__(self, channel, instance, cache_dir):
        self.instance = instance
        self.cas = re_grpc.ContentAddressableStorageStub(channel)
        self.bytestream = bytestream_pb2_grpc.ByteStreamStub(channel)
        self.cache_dir = cache_dir
        os.makedirs(cache_dir, exist_ok=True)
        caps = self._call(re_grpc.CapabilitiesStub(channel).GetCapabilities,
                          re_pb2.GetCapabilitiesRequest(instance_name=instance))
        limit = caps.cache_capabilities.max_batch_total_size_bytes or (4 << 20)
        # Leave room for the protobuf framing under the 4 MiB gRPC message limit.
        self.batch_budget = max(64 << 10, min(limit, 4 << 20) - (64 << 10))

    def _call(self, method, request, timeout=RPC_TIMEOUT):
        delay = 0.2
        for attempt in range(5):
            try:
                return method(request, timeout=timeout)
            except grpc.RpcError as e:
                if e.code() not in RETRY_CODES or attempt == 4:
                    raise
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    def _resource(self, digest, upload=False):
        prefix = f"{self.instance}/" if self.instance else ""
        if upload:
            prefix += f"uploads/{uuid.uuid4()}/"
        return f"{prefix}blobs/{digest.hash}/{digest.size_bytes}"

    def _batches(self, digests):
        batch, total = [], 0
        for d in digests:
            cost = d.size_bytes + 256
            if batch and total + cost > self.batch_budget:
                yield batch
                batch, total = [], 0
            batch.append(d)
            total += cost
        if batch:
            yield batch

    def _small(self, digest):
        return digest.size_bytes + 256 <= self.batch_budget // 2

    def read_blobs(self, digests):
        """Returns ({hash: bytes}, [missing digests]) for small messages."""
        found, missing, unique = {}, [], {}
        for d in digests:
            unique.setdefault(d.hash, d)
        small = [d for d in unique.values() if self._small(d)]
        for batch in self._batches(small):
            resp = self._call(self.cas.BatchReadBlobs,
                              re_pb2.BatchReadBlobsRequest(instance_name=self.instance, digests=batch))
            for r in resp.responses:
                if r.status.code == code_pb2.OK:
                    found[r.digest.hash] = r.data
                elif r.status.code == code_pb2.NOT_FOUND:
                    missing.append(r.digest)
                else:
                    raise ActionError(code_pb2.UNAVAILABLE, f"BatchReadBlobs {r.digest.hash}: {r.status.message}")
        for d in unique.values():
            if self._small(d):
                continue
            try:
                found[d.hash] = b"".join(
                    r.data for r in self.bytestream.Read(
                        bytestream_pb2.ReadRequest(resource_name=self._resource(d)), timeout=RPC_TIMEOUT * 5))
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.NOT_FOUND:
                    raise
                missing.append(d)
        return found, missing

    def cached(self, digest):
        return os.path.join(self.cache_dir, digest.hash)

    def _store(self, digest, write):
        fd, tmp = tempfile.mkstemp(dir=self.cache_dir, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
            got = digest_of_file(tmp)
            if got.hash != digest.hash or got.size_bytes != digest.size_bytes:
                raise ActionError(code_pb2.DATA_LOSS, f"blob {digest.hash}/{digest.size_bytes} came back as {got.hash}/{got.size_bytes}")
            os.replace(tmp, self.cached(digest))
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def fetch_files(self, digests):
        """Makes sure every digest is in the local cache; returns the missing ones."""
        want = {}
        for d in digests:
            if not os.path.exists(self.cached(d)):
                want.setdefault(d.hash, d)
        missing = []
        small = [d for d in want.values() if self._small(d)]
        for batch in self._batches(small):
            found, miss = self.read_blobs(batch)
            missing += miss
            for d in batch:
                if d.hash in found:
                    self._store(d, lambda f, data=found[d.hash]: f.write(data))
        for d in want.values():
            if self._small(d):
                continue

            def write(f, d=d):
                for r in self.bytestream.Read(bytestream_pb2.ReadRequest(resource_name=self._resource(d)),
                                              timeout=RPC_TIMEOUT * 10):
                    f.write(r.data)

            try:
                self._store(d, write)
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.NOT_FOUND:
                    raise
                missing.append(d)
        return missing

    def upload(self, blobs):
        """blobs: {hash: (Digest, bytes or a file path)}; uploads what the CAS lacks."""
        if not blobs:
            return
        digests = [d for d, _ in blobs.values()]
        missing = []
        for i in range(0, len(digests), 1000):
            resp = self._call(self.cas.FindMissingBlobs, re_pb2.FindMissingBlobsRequest(
                instance_name=self.instance, blob_digests=digests[i:i + 1000]))
            missing += resp.missing_blob_digests

        def data_of(d):
            content = blobs[d.hash][1]
            if isinstance(content, bytes):
                return content
            with open(content, "rb") as f:
                return f.read()

        small = [d for d in missing if self._small(d)]
        for batch in self._batches(small):
            req = re_pb2.BatchUpdateBlobsRequest(instance_name=self.instance)
            for d in batch:
                req.requests.add(digest=d, data=data_of(d))
            resp = self._call(self.cas.BatchUpdateBlobs, req)
            for r in resp.responses:
                if r.status.code != code_pb2.OK:
                    raise ActionError(code_pb2.UNAVAILABLE, f"BatchUpdateBlobs {r.digest.hash}: {r.status.message}")
        for d in missing:
            if not self._small(d):
                self._write_stream(d, blobs[d.hash][1])

    def _write_stream(self, digest, content):
        resource = self._resource(digest, upload=True)

        def chunks():
            if isinstance(content, bytes):
                pieces = (content[i:i + CHUNK] for i in range(0, len(content), CHUNK))
            else:
                def from_file():
                    with open(content, "rb") as f:
                        while piece := f.read(CHUNK):
                            yield piece
                pieces = from_file()
            offset = 0
            for piece in pieces:
                yield bytestream_pb2.WriteRequest(resource_name=resource, write_offset=offset, data=piece)
                offset += len(piece)
            yield bytestream_pb2.WriteRequest(resource_name=resource, write_offset=offset, finish_write=True)

        resp = self.bytestream.Write(chunks(), timeout=RPC_TIMEOUT * 10)
        if resp.committed_size not in (digest.size_bytes, -1):
            raise ActionError(code_pb2.UNAVAILABLE, f"ByteStream.Write {digest.hash}: committed {resp.committed_size} of {digest.size_bytes}")


def find_faketime():
    for pattern in ("/usr/lib/*/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1",
                    "/usr/local/lib/faketime/libfaketime.so.1", "/usr/lib64/faketime/libfaketime.so.1"):
        hits = sorted(glob.glob(pattern))
        if hits:
            return hits[0]
    return None


class Bot:
    def __init__(self, args):
        self.args = args
        self.name = args.name
        self.instance = args.instance
        self.work_dir = os.path.abspath(args.work_dir)
        self.lease_dir = os.path.join(self.work_dir, "lease")
        self.pgid_file = os.path.join(self.work_dir, "command.pgid")
        self.exec_root_path = os.path.abspath(args.exec_root_path or os.path.join(self.work_dir, "execroot"))
        os.makedirs(self.exec_root_path, exist_ok=True)
        self.stopping = threading.Event()
        self.unshare = shutil.which("unshare")
        self.disorderfs = shutil.which("disorderfs")
        self.fusermount = shutil.which("fusermount3") or shutil.which("fusermount")
        self.faketime = find_faketime()
        self.ns_flags = None  # unshare flags when commands run in their own namespaces
        self.supported = set()
        self._probe()
        target = args.remote
        for scheme in ("grpc://", "http://"):
            if target.startswith(scheme):
                target = target[len(scheme):]
        self.channel = grpc.insecure_channel(target, options=[
            ("grpc.max_receive_message_length", 64 << 20),
            ("grpc.max_send_message_length", 64 << 20),
        ])
        self.bots = bots_pb2_grpc.BotsStub(self.channel)
        self.cas = None  # after the server is up
        self.current = None  # the running lease's process, for cancel/stop
        self.lock = threading.Lock()

    # -- what this machine can do ------------------------------------------------

    def _helper_argv(self, src, dst, wd, hostname, errfile, envfile, args):
        return [sys.executable, "-I", "-S", os.path.abspath(__file__), "--exec-helper",
                src, dst, wd, hostname, errfile, envfile, "--", *args]

    @staticmethod
    def _write_env(path, env):
        with open(path, "wb") as f:
            for k, v in env.items():
                f.write(k.encode() + b"=" + v.encode() + b"\0")

    def _probe(self):
        probe = tempfile.mkdtemp(prefix="probe-", dir=self.work_dir)
        try:
            src = os.path.join(probe, "src")
            dst = os.path.join(probe, "dst")
            os.mkdir(src)
            os.mkdir(dst)
            errfile = os.path.join(probe, "err")
            envfile = os.path.join(probe, "env")
            self._write_env(envfile, {"PATH": "/usr/bin:/bin"})
            base = ["--mount", "--pid", "--fork", "--kill-child", "--mount-proc"]
            if os.geteuid() != 0:
                base = ["--user", "--map-current-user", "--keep-caps"] + base
            if self.unshare and not self.args.no_namespaces:
                ok = self._try([self.unshare, *base, "--",
                                *self._helper_argv(src, dst, ".", "", errfile, envfile, ["/bin/sh", "-c", "exit 0"])])
                if ok:
                    self.ns_flags = base
                    if self._try([self.unshare, *base, "--uts", "--",
                                  *self._helper_argv(src, dst, ".", "twice-probe", errfile, envfile,
                                                     ["/bin/sh", "-c", "exit 0"])]):
                        self.supported.add("hostname")
                else:
                    LOG.warning("cannot run commands in private namespaces (%s); each bot uses its own exec "
                                "root path and host name variation is off", self._read(errfile))
            if self.faketime:
                self.supported.add("faketime")
            if self.disorderfs and self.fusermount and os.access("/dev/fuse", os.R_OK | os.W_OK):
                mnt = os.path.join(probe, "mnt")
                os.mkdir(mnt)
                try:
                    proc = self._mount_disorderfs(src, mnt, "reverse")
                    self._unmount(mnt, proc)
                    self.supported.add("file-order")
                except ActionError as e:
                    LOG.warning("disorderfs does not work here: %s", e)
        finally:
            rmtree(probe)
        LOG.info("exec root path %s (%s); variations: %s", self.exec_root_path,
                 "private namespaces" if self.ns_flags else "no namespaces",
                 ", ".join(sorted(self.supported)) or "none")

    @staticmethod
    def _read(path):
        try:
            with open(path) as f:
                return f.read().strip()
        except OSError:
            return ""

    @staticmethod
    def _try(argv):
        try:
            return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin"},
                                  timeout=30).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    def _mount_disorderfs(self, src, mnt, order):
        proc = subprocess.Popen([self.disorderfs, "-f", "-q", *FILE_ORDERS[order], "--pad-blocks=0",
                                 "-o", "auto_unmount", src, mnt],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if os.path.ismount(mnt):
                return proc
            if proc.poll() is not None:
                raise ActionError(code_pb2.INTERNAL, f"disorderfs exited: {proc.stderr.read().decode(errors='replace').strip()}")
            time.sleep(0.02)
        proc.kill()
        proc.wait()
        raise ActionError(code_pb2.INTERNAL, "disorderfs did not mount within 10 s")

    def _unmount(self, mnt, proc):
        subprocess.run([self.fusermount, "-u", "-z", mnt], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def properties(self):
        props = [worker_pb2.Device.Property(key="OSFamily", value="linux")]
        for v in sorted(self.supported):
            props.append(worker_pb2.Device.Property(key=MATCH_KEY, value=v))
        return props

    # -- the session ---------------------------------------------------------------

    def new_session(self):
        return bots_pb2.BotSession(
            bot_id=self.name,
            status=bots_pb2.OK,
            worker=worker_pb2.Worker(
                devices=[worker_pb2.Device(handle=self.name, properties=self.properties())],
                configs=[worker_pb2.Worker.Config(key="capacity", value="1")],
            ),
        )

    def create_session(self):
        delay = 0.2
        while not self.stopping.is_set():
            try:
                if self.cas is None:
                    self.cas = Cas(self.channel, self.instance, os.path.join(self.work_dir, "cache"))
                session = self.bots.CreateBotSession(
                    bots_pb2.CreateBotSessionRequest(parent=self.instance, bot_session=self.new_session()),
                    timeout=CREATE_TIMEOUT)
                LOG.info("bot session %s", session.name)
                return session
            except grpc.RpcError as e:
                LOG.warning("CreateBotSession: %s %s; retrying", e.code().name, e.details())
                self.stopping.wait(delay)
                delay = min(delay * 2, 5.0)
        return None

    def serve(self):
        session = self.create_session()
        if session is None:
            return
        if self.args.ready_file:
            tmp = self.args.ready_file + ".tmp"
            with open(tmp, "w") as f:
                json.dump({"name": self.name, "pid": os.getpid(), "variations": sorted(self.supported),
                           "exec_root_path": self.exec_root_path, "namespaces": bool(self.ns_flags)}, f)
            os.replace(tmp, self.args.ready_file)
        runner = None
        finished = set()
        delay = 0.2
        while not self.stopping.is_set():
            if runner is not None and runner.done.is_set():
                for lease in session.leases:
                    if lease.id == runner.lease_id:
                        lease.state = bots_pb2.COMPLETED
                        lease.status.CopyFrom(runner.status)
                        lease.result.Pack(runner.result)
            busy = runner is not None and not runner.done.is_set()
            try:
                session = self.bots.UpdateBotSession(
                    bots_pb2.UpdateBotSessionRequest(name=session.name, bot_session=session),
                    timeout=HEARTBEAT if busy else IDLE_POLL)
                delay = 0.2
            except grpc.RpcError as e:
                code = e.code()
                if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                    continue
                if code in RETRY_CODES or code == grpc.StatusCode.CANCELLED:
                    LOG.warning("UpdateBotSession: %s %s; retrying", code.name, e.details())
                    self.stopping.wait(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                LOG.warning("UpdateBotSession: %s %s; starting a new session", code.name, e.details())
                if runner is not None:
                    runner.cancel()
                    runner.done.wait()
                    runner = None
                session = self.create_session()
                if session is None:
                    return
                continue
            if runner is not None and runner.done.is_set():
                finished.add(runner.lease_id)
                runner = None
            ids = {lease.id for lease in session.leases}
            if runner is not None and runner.lease_id not in ids:
                LOG.info("lease %s was cancelled by the server", runner.lease_id)
                runner.cancel()
                runner.done.wait()
                runner = None
            for lease in session.leases:
                if lease.state in (bots_pb2.PENDING, bots_pb2.ACTIVE) and lease.id not in finished:
                    if runner is None:
                        lease.state = bots_pb2.ACTIVE
                        runner = LeaseRunner(self, lease)
                        runner.start()
                    elif runner.lease_id != lease.id:
                        LOG.warning("lease %s arrived while %s runs; ignoring it", lease.id, runner.lease_id)
            if runner is not None and not runner.done.is_set():
                runner.done.wait(HEARTBEAT)
        if runner is not None:
            runner.cancel()
            runner.done.wait(10)

    def stop(self, *_):
        self.stopping.set()
        with self.lock:
            proc = self.current
        if proc is not None:
            kill_group(proc)

    # -- one lease ------------------------------------------------------------------

    def execute(self, lease, runner):
        meta = re_pb2.ExecutedActionMetadata(worker=self.name, input_fetch_start_timestamp=now_ts())
        if lease.payload.Is(re_pb2.Action.DESCRIPTOR):
            action = re_pb2.Action()
            lease.payload.Unpack(action)
        elif lease.payload.Is(re_pb2.Digest.DESCRIPTOR):
            digest = re_pb2.Digest()
            lease.payload.Unpack(digest)
            found, missing = self.cas.read_blobs([digest])
            if missing:
                raise MissingBlobs(missing, "action")
            action = re_pb2.Action.FromString(found[digest.hash])
        else:
            raise ActionError(code_pb2.INVALID_ARGUMENT, f"unknown lease payload {lease.payload.type_url}")
        found, missing = self.cas.read_blobs([action.command_digest])
        if missing:
            raise MissingBlobs(missing, "command")
        command = re_pb2.Command.FromString(found[action.command_digest.hash])
        if not command.arguments:
            raise ActionError(code_pb2.INVALID_ARGUMENT, "Command.arguments is empty")
        platform = action.platform if action.platform.properties else command.platform
        variations = self.variations(platform)

        rmtree(self.lease_dir)
        root = os.path.join(self.lease_dir, "root")
        os.makedirs(root)
        self.materialise(action.input_root_digest, root)
        meta.input_fetch_completed_timestamp.CopyFrom(now_ts())

        wd = check_relpath(command.working_directory, "working_directory")
        if command.output_paths:
            outputs = [("path", p) for p in command.output_paths]
        else:
            outputs = [("file", p) for p in command.output_files] + [("dir", p) for p in command.output_directories]
        checked = []
        for kind, p in outputs:
            rel = check_relpath(os.path.join(wd, p), f"output {p!r}")
            if rel == ".":
                raise ActionError(code_pb2.INVALID_ARGUMENT, f"output {p!r} is the exec root")
            checked.append((kind, p, rel))
            os.makedirs(os.path.join(root, os.path.dirname(rel)), exist_ok=True)
        os.makedirs(os.path.join(root, wd), exist_ok=True)

        timeout = action.timeout.ToTimedelta().total_seconds() if action.HasField("timeout") else 0
        timeout = timeout if timeout > 0 else self.args.default_timeout
        meta.execution_start_timestamp.CopyFrom(now_ts())
        exit_code, timed_out = self.run(command, variations, root, wd, timeout, runner)
        meta.execution_completed_timestamp.CopyFrom(now_ts())

        meta.output_upload_start_timestamp.CopyFrom(now_ts())
        result = re_pb2.ActionResult(exit_code=exit_code)
        blobs = {}
        for stream, field in (("stdout", "stdout_digest"), ("stderr", "stderr_digest")):
            path = os.path.join(self.lease_dir, stream)
            d = digest_of_file(path)
            blobs[d.hash] = (d, path)
            getattr(result, field).CopyFrom(d)
        errors = self.collect(command, checked, root, result, blobs)
        self.cas.upload(blobs)
        meta.output_upload_completed_timestamp.CopyFrom(now_ts())
        info = struct_pb2.Struct()
        info.update({"bot": self.name, "exec_root": self.exec_root_path if self.ns_flags else root,
                     "variations": dict(variations)})
        meta.auxiliary_metadata.add().Pack(info)
        result.execution_metadata.CopyFrom(meta)
        if not self.args.keep_exec_roots:
            rmtree(self.lease_dir)
        if timed_out:
            raise ActionError(code_pb2.DEADLINE_EXCEEDED, f"the action timed out after {timeout:g} s", partial=result)
        if errors:
            raise ActionError(code_pb2.FAILED_PRECONDITION, "; ".join(errors), partial=result)
        return result

    def variations(self, platform):
        requested = {}
        for p in platform.properties:
            if p.name in VARIATION_KEYS:
                if p.name in requested and requested[p.name] != p.value:
                    raise ActionError(code_pb2.INVALID_ARGUMENT, f"{p.name} given twice")
                requested[p.name] = p.value
        for key, value in requested.items():
            what = VARIATION_KEYS[key]
            if what not in self.supported:
                need = {"faketime": "libfaketime (package faketime)",
                        "file-order": "disorderfs and FUSE (package disorderfs; /dev/fuse, in practice root)",
                        "hostname": "a UTS namespace (root or unprivileged user namespaces)"}[what]
                raise ActionError(code_pb2.FAILED_PRECONDITION,
                                  f"{key}={value}: worker {self.name} cannot apply this variation (needs {need})")
            if what == "faketime" and not FAKETIME_RE.match(value):
                raise ActionError(code_pb2.INVALID_ARGUMENT, f"{key}={value!r}: want a signed number of seconds")
            if what == "file-order" and value not in FILE_ORDERS:
                raise ActionError(code_pb2.INVALID_ARGUMENT, f"{key}={value!r}: want one of {', '.join(FILE_ORDERS)}")
            if what == "hostname" and not HOSTNAME_RE.match(value):
                raise ActionError(code_pb2.INVALID_ARGUMENT, f"{key}={value!r}: not a host name")
        return requested

    def materialise(self, root_digest, dest):
        dirs, missing = {}, []
        frontier = [root_digest]
        while frontier:
            want = [d for d in frontier if d.hash not in dirs]
            found, miss = self.cas.read_blobs(want)
            missing += miss
            frontier = []
            for d in want:
                if d.hash in found and d.hash not in dirs:
                    msg = re_pb2.Directory.FromString(found[d.hash])
                    dirs[d.hash] = msg
                    frontier += [c.digest for c in msg.directories]
        files = {f.digest.hash: f.digest for msg in dirs.values() for f in msg.files}
        missing += self.cas.fetch_files(files.values())
        if missing:
            raise MissingBlobs(missing)
        stack = [(root_digest.hash, dest)]
        while stack:
            h, path = stack.pop()
            msg = dirs[h]
            os.makedirs(path, exist_ok=True)
            for f in msg.files:
                target = os.path.join(path, check_name(f.name))
                shutil.copyfile(self.cas.cached(f.digest), target)
                mode = 0o755 if f.is_executable else 0o644
                if f.node_properties.HasField("unix_mode"):
                    mode = f.node_properties.unix_mode.value & 0o7777
                os.chmod(target, mode)
                if f.node_properties.HasField("mtime"):
                    t = f.node_properties.mtime.ToNanoseconds()
                    os.utime(target, ns=(t, t))
            for s in msg.symlinks:
                os.symlink(s.target, os.path.join(path, check_name(s.name)))
            for c in msg.directories:
                stack.append((c.digest.hash, os.path.join(path, check_name(c.name))))

    def run(self, command, variations, root, wd, timeout, runner):
        env = {e.name: e.value for e in command.environment_variables}
        if "twice-faketime" in variations:
            preload = env.get("LD_PRELOAD")
            env["LD_PRELOAD"] = self.faketime + (f":{preload}" if preload else "")
            env["FAKETIME"] = f"{int(variations['twice-faketime']):+d}"
            env["NO_FAKE_STAT"] = "1"
        args = list(command.arguments)
        stdout = os.path.join(self.lease_dir, "stdout")
        stderr = os.path.join(self.lease_dir, "stderr")
        errfile = os.path.join(self.lease_dir, "setup-error")
        run_root, fuse = root, None
        try:
            if "twice-file-order" in variations:
                run_root = os.path.join(self.lease_dir, "ordered")
                os.mkdir(run_root)
                fuse = self._mount_disorderfs(root, run_root, variations["twice-file-order"])
            if self.ns_flags:
                flags = list(self.ns_flags) + (["--uts"] if "twice-hostname" in variations else [])
                envfile = os.path.join(self.lease_dir, "environment")
                self._write_env(envfile, env)
                argv = [self.unshare, *flags, "--",
                        *self._helper_argv(run_root, self.exec_root_path, wd,
                                           variations.get("twice-hostname", ""), errfile, envfile, args)]
                cwd, env = self.lease_dir, {}
            else:
                argv, cwd = args, os.path.join(run_root, wd)
            with open(stdout, "wb") as out, open(stderr, "wb") as err:
                try:
                    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=err, start_new_session=True)
                except OSError as e:  # only without namespaces: the command itself cannot start
                    err.write(f"twice-bot: cannot execute {args[0]}: {e.strerror}\n".encode())
                    return (126 if isinstance(e, PermissionError) else 127), False
                with self.lock:
                    self.current = proc
                with open(self.pgid_file, "w") as f:
                    f.write(f"{proc.pid} {start_time(proc.pid)}\n")
                if runner.cancelled or self.stopping.is_set():
                    kill_group(proc)
                timed_out = False
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    timed_out = True
                    kill_group(proc)
                    proc.wait()
                finally:
                    kill_group(proc)  # whatever the command left in its process group
                    with self.lock:
                        self.current = None
                    os.unlink(self.pgid_file)
        finally:
            if fuse is not None:
                self._unmount(run_root, fuse)
        setup_error = self._read(errfile)
        if setup_error:
            raise ActionError(code_pb2.INTERNAL, f"worker {self.name} could not set up the command: {setup_error}")
        if runner.cancelled:
            raise ActionError(code_pb2.CANCELLED, "cancelled")
        code = proc.returncode
        return (128 - code if code < 0 else code), timed_out

    def collect(self, command, checked, root, result, blobs):
        errors = []
        for kind, p, rel in checked:
            full = os.path.join(root, rel)
            try:
                st = os.lstat(full)
            except FileNotFoundError:
                continue
            if stat.S_ISLNK(st.st_mode):
                target = os.readlink(full)
                result.output_symlinks.add(path=p, target=target)
                if kind == "file":
                    result.output_file_symlinks.add(path=p, target=target)
                elif kind == "dir":
                    result.output_directory_symlinks.add(path=p, target=target)
            elif stat.S_ISDIR(st.st_mode):
                if kind == "file":
                    errors.append(f"output file {p!r} is a directory")
                    continue
                tree, root_dir_digest = self.tree(full, blobs, command.output_directory_format)
                data = serialize(tree)
                d = digest_of_bytes(data)
                blobs[d.hash] = (d, data)
                out = result.output_directories.add(path=p, tree_digest=d, is_topologically_sorted=True)
                if root_dir_digest is not None:
                    out.root_directory_digest.CopyFrom(root_dir_digest)
            elif stat.S_ISREG(st.st_mode):
                if kind == "dir":
                    errors.append(f"output directory {p!r} is a file")
                    continue
                d = digest_of_file(full)
                blobs[d.hash] = (d, full)
                result.output_files.add(path=p, digest=d, is_executable=bool(st.st_mode & stat.S_IXUSR))
        return errors

    def tree(self, top, blobs, fmt):
        """A Tree for the directory `top`; children in topological order."""
        messages = {}  # hash -> (Digest, Directory, child hashes)

        def visit(path):
            msg = re_pb2.Directory()
            children = []
            for name in sorted(os.listdir(path)):
                full = os.path.join(path, name)
                st = os.lstat(full)
                if stat.S_ISLNK(st.st_mode):
                    msg.symlinks.add(name=name, target=os.readlink(full))
                elif stat.S_ISDIR(st.st_mode):
                    d = visit(full)
                    msg.directories.add(name=name, digest=d)
                    children.append(d.hash)
                elif stat.S_ISREG(st.st_mode):
                    d = digest_of_file(full)
                    blobs[d.hash] = (d, full)
                    msg.files.add(name=name, digest=d, is_executable=bool(st.st_mode & stat.S_IXUSR))
            d = digest_of_bytes(serialize(msg))
            messages.setdefault(d.hash, (d, msg, children))
            return d

        root = visit(top)
        order, seen = [], set()

        def post(h):
            if h in seen:
                return
            seen.add(h)
            for c in messages[h][2]:
                post(c)
            order.append(h)

        post(root.hash)
        order.reverse()  # parents before children
        tree = re_pb2.Tree(root=messages[root.hash][1])
        for h in order[1:]:
            tree.children.append(messages[h][1])
        root_dir_digest = None
        if fmt in (re_pb2.Command.DIRECTORY_ONLY, re_pb2.Command.TREE_AND_DIRECTORY):
            for d, msg, _ in messages.values():
                blobs[d.hash] = (d, serialize(msg))
            root_dir_digest = root
        return tree, root_dir_digest


def start_time(pid):
    """Field 22 of /proc/PID/stat, to tell a PID from a later reuse of it."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "0"


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class LeaseRunner(threading.Thread):
    def __init__(self, bot, lease):
        super().__init__(daemon=True, name=f"lease-{lease.id}")
        self.bot = bot
        self.lease = bots_pb2.Lease()
        self.lease.CopyFrom(lease)
        self.lease_id = lease.id
        self.done = threading.Event()
        self.cancelled = False
        self.result = re_pb2.ActionResult()
        self.status = status_pb2.Status(code=code_pb2.OK)

    def cancel(self):
        self.cancelled = True
        with self.bot.lock:
            proc = self.bot.current
        if proc is not None:
            kill_group(proc)

    def run(self):
        started = time.monotonic()
        try:
            self.result = self.bot.execute(self.lease, self)
        except Exception as e:  # every failure becomes the lease's status
            if isinstance(e, ActionError):
                err = e
            elif isinstance(e, grpc.RpcError):
                err = ActionError(code_pb2.UNAVAILABLE, f"CAS call failed: {e.code().name} {e.details()}")
            else:
                LOG.exception("lease %s", self.lease_id)
                err = ActionError(code_pb2.INTERNAL, f"worker {self.bot.name}: {type(e).__name__}: {e}")
            self.status = status_pb2.Status(code=err.code, message=str(err))
            for detail in err.details:
                self.status.details.add().Pack(detail)
            if err.partial is not None:
                self.result = err.partial
        LOG.info("lease %s: %s exit %d in %.2f s", self.lease_id, code_pb2.Code.Name(self.status.code),
                 self.result.exit_code, time.monotonic() - started)
        self.done.set()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--remote", required=True, help="grpc://HOST:PORT of the server")
    ap.add_argument("--instance", default="", help="instance name (default: '')")
    ap.add_argument("--name", default=f"bot-{os.uname().nodename}-{os.getpid()}", help="bot id")
    ap.add_argument("--work-dir", required=True, help="the bot's own directory (lease, cache)")
    ap.add_argument("--exec-root-path", help="fixed path every command sees as its exec root "
                    "(shared by the bots of one cluster; needs namespaces)")
    ap.add_argument("--ready-file", help="written once the bot session exists")
    ap.add_argument("--default-timeout", type=float, default=1800.0, help="seconds, when the Action sets none")
    ap.add_argument("--no-namespaces", action="store_true", help="run commands directly")
    ap.add_argument("--keep-exec-roots", action="store_true", help="leave the last exec root for debugging")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {args.name} %(levelname)s %(message)s")
    os.makedirs(args.work_dir, exist_ok=True)
    bot = Bot(args)
    signal.signal(signal.SIGTERM, bot.stop)
    signal.signal(signal.SIGINT, bot.stop)
    bot.serve()
    LOG.info("stopped")


if __name__ == "__main__":
    main()
