#!/usr/bin/env bash
# Regenerates the checked-in fuzz seeds from real traffic (not run by CI; the seeds are in
# git). Needs redis-server, redis-cli, redis-benchmark, python3 and a built strata-server.
#   resp_decode/      RESP bytes redis-benchmark and redis-cli sent to a real redis-server
#                     (through capture_proxy.py), one connection per file, prefixed with
#                     the target's split-size byte
#   log_reader/       log files strata-server wrote while that traffic was replayed to it
#   snapshot_reader/  base snapshots (BGREWRITEAOF) and dump.rdb files (BGSAVE)
#   manifest/         the manifests at each step
#   dump_payload/     DUMP payloads redis-server wrote for values of every type and
#                     encoding (listpack, intset, quicklist, hash table, skiplist, LZF)
#   rdb_file/         the RDB file (dump.rdb) redis-server SAVEd with those values
#   commands/         32 random inputs of 64-300 bytes (fixed seed): the target decodes
#                     any bytes into a power-loss point and up to 40 commands, so random
#                     bytes are well-formed sequences (there is no traffic to capture)
#   replay/           16 random inputs of 200-2000 bytes (fixed seed), for the same reason
# (scripts/ and acl_file/ are written by hand and left alone.)
# Usage: fuzz/seeds/regenerate.sh [path/to/strata-server]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
SEEDS=$PWD
STRATA=${1:-../../target/debug/strata-server}
STRATA=$(realpath "$STRATA")
W=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 50); do redis-cli -p "$1" PING >/dev/null 2>&1 && return; sleep 0.1; done; exit 1; }

# 1. RESP traffic: redis-benchmark and redis-cli against redis-server, through the proxy.
RP=$(port); PP=$(port)
redis-server --port "$RP" --dir "$W" --save '' --appendonly no >/dev/null 2>&1 & PIDS+=($!)
wait_port "$RP"
python3 capture_proxy.py "$PP" "$RP" "$W/resp" & PIDS+=($!)
sleep 0.5
for t in ping_inline ping_mbulk set get incr lpush rpush lpop rpop sadd hset spop zadd zpopmin lrange_100 mset; do
  redis-benchmark -p "$PP" -n 6 -c 1 -q -t "$t" -d 8 >/dev/null 2>&1
done
redis-benchmark -p "$PP" -n 20 -c 1 -P 8 -q -t set,get -r 100 >/dev/null 2>&1
redis-benchmark -p "$PP" -n 5 -c 1 -q -3 -t set,get >/dev/null 2>&1
redis-cli -p "$PP" -3 HELLO 3 >/dev/null
redis-cli -p "$PP" SET k1 v1 EX 100 >/dev/null
redis-cli -p "$PP" >/dev/null <<'X'
MULTI
SET a 1
INCR a
LPUSH l x y z
EXEC
HSET h f1 v1 f2 v2
HGETALL h
ZADD z 1.5 m1 -inf m2
ZRANGE z 0 -1 WITHSCORES
SADD s a b c
SMEMBERS s
EXPIRE h 100
PEXPIREAT s 99999999999999
PERSIST s
TTL h
GETEX k1 PX 5000
SELECT 2
CLIENT SETNAME fuzz
CONFIG GET maxmemory
X
redis-cli -p "$PP" -3 >/dev/null <<'X'
HELLO 3 SETNAME c3
HGETALL h
ZSCORE z m1
SMEMBERS s
CLIENT TRACKING on
X
python3 - "$PP" <<'X'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b'PING\r\nSET inline "quoted value"\r\nGET inline\r\nSUBSCRIBE ch\r\nPING\r\nUNSUBSCRIBE\r\nQUIT\r\n')
s.settimeout(1)
try:
    while s.recv(65536): pass
except OSError: pass
X
sleep 0.5
rm -rf resp_decode && mkdir resp_decode
i=0
for f in $(md5sum "$W"/resp/*.bin | sort -u -k1,1 | awk '{print $2}' | sort); do
  [[ -s $f ]] || continue
  # The target's first byte picks the split size: vary it over the seeds.
  { printf "\\$(printf '%03o' $((i % 17)))"; head -c 4096 "$f"; } > "resp_decode/$(basename "$f")"
  i=$((i + 1))
done

# DUMP payloads of every encoding, from the same redis-server.
rm -rf dump_payload && mkdir dump_payload
python3 - "$RP" dump_payload <<'X'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
f = s.makefile("rb")
def call(*a):
    s.sendall(b"*%d\r\n" % len(a) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in (str(y).encode() for y in a)))
    line = f.readline()
    if line[:1] == b"$":
        n = int(line[1:])
        return f.read(n + 2)[:-2] if n >= 0 else None
    return line
call("FLUSHALL")
call("SET", "s", "hello"); call("SET", "i", -5); call("SET", "w", 9999999999)
call("SET", "lz", "abcdefgh" * 20)
call("RPUSH", "l", "a", 1, -300, 70000, 2**40, "x" * 70)
call("SADD", "si", 1, 2, -70000); call("SADD", "si64", 1, 5000000000)
call("SADD", "sh", *[f"m{i}" for i in range(130)])
call("HSET", "h", "f", "v", "x", 1); call("HSET", "hh", *[f"f{i}" for i in range(300)])
call("ZADD", "z", 1.5, "a", 2, "b", "inf", "c")
call("ZADD", "zz", *[x for i in range(130) for x in (i * 0.5, f"m{i}")])
call("CONFIG", "SET", "list-max-listpack-size", 2); call("RPUSH", "ll", *"abcde")
for k in ["s", "i", "w", "lz", "l", "si", "si64", "sh", "h", "hh", "z", "zz", "ll"]:
    open(f"{sys.argv[2]}/{k}.bin", "wb").write(call("DUMP", k))
X
rm -rf rdb_file && mkdir rdb_file
redis-cli -p "$RP" SAVE >/dev/null
cp "$W/dump.rdb" rdb_file/redis.rdb

# 2. Replay that traffic to strata-server (appendfsync always) and keep its files.
SP=$(port)
"$STRATA" --port "$SP" --dir "$W/data" --appendfsync always --save '' >/dev/null 2>&1 & SPID=$!; PIDS+=($SPID)
wait_port "$SP"
rm -rf log_reader snapshot_reader manifest && mkdir log_reader snapshot_reader manifest
n=0
keep() { # copy the data directory's files, logs without their preallocated zeros
  n=$((n + 1))
  for f in "$W"/data/*; do
    case $f in
      *.incr) python3 -c 'import sys; sys.stdout.buffer.write(open(sys.argv[1],"rb").read().rstrip(b"\0"))' "$f" > "log_reader/step$n-$(basename "$f")" ;;
      *.base|*.rdb) cp "$f" "snapshot_reader/step$n-$(basename "$f")" ;;
      *.manifest) cp "$f" "manifest/step$n-$(basename "$f")" ;;
    esac
  done
}
python3 - "$SP" "$W/resp" <<'X'
import glob, socket, sys
for f in sorted(glob.glob(sys.argv[2] + "/*.bin")):
    d = open(f, "rb").read()
    if b"SUBSCRIBE" in d or b"TRACKING" in d:
        continue
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(d)
    s.settimeout(0.3)
    try:
        while s.recv(65536): pass
    except OSError: pass
    s.close()
X
keep
redis-cli -p "$SP" >/dev/null <<'X'
HSET h f1 v1 f2 v2
ZADD z 1.5 m1 -2 m2 3e10 m3
SADD s a b c 12 13
SADD si 1 2 3 4
RPUSH l a b c d
SET i 12345
SET e x PX 99999999
PEXPIREAT s 99999999999999
SELECT 3
SET db3 y
LPUSH l3 x
X
keep
redis-cli -p "$SP" BGREWRITEAOF >/dev/null; sleep 1; keep
redis-cli -p "$SP" >/dev/null <<'X'
APPEND a tail
INCRBY i 5
HDEL h f1
ZINCRBY z 2 m2
MULTI
SET t1 1
LPUSH l t
EXEC
X
keep
redis-cli -p "$SP" BGSAVE >/dev/null; sleep 1; keep
# A bigger keyspace of every type (one LZ4 chunk of about 2 KB: bigger seeds raise
# libFuzzer's -max_len above 4096 and slowed snapshot_reader to ~70 execs/s).
redis-benchmark -p "$SP" -n 300 -r 60 -c 2 -q -t set,lpush,sadd,hset,zadd -d 16 >/dev/null 2>&1
redis-cli -p "$SP" BGSAVE >/dev/null; sleep 1; keep
redis-cli -p "$SP" BGREWRITEAOF >/dev/null; sleep 1; redis-cli -p "$SP" SET last 1 >/dev/null; keep
# Cap the log seeds at libFuzzer's default -max_len (4096: bigger seeds raise it and slow
# every run), then drop duplicates (files that did not change between steps).
for f in log_reader/*; do [[ $(stat -c %s "$f") -le 4096 ]] || truncate -s 4096 "$f"; done
for d in log_reader snapshot_reader manifest; do
  md5sum "$d"/* | sort -k1,1 | awk 'seen[$1]++ {print $2}' | xargs -r rm
done
rm -rf commands replay && mkdir commands replay
python3 - <<'X'
import random
for target, seed, files, lo, hi in [("commands", 7, 32, 64, 300), ("replay", 11, 16, 200, 2000)]:
    r = random.Random(seed)
    for i in range(files):
        n = r.randint(lo, hi)
        open(f"{target}/random-{i:02d}.bin", "wb").write(bytes(r.getrandbits(8) for _ in range(n)))
X
du -sh "$SEEDS"
