"""Random Flask-Session records, made and checked by msgspec (Flask-Session 0.8's serializer).

    msgspec_records.py generate COUNT SEED   one JSON line per record: {"hex": msgpack}
    msgspec_records.py check                 stdin: {"original", "rewritten", "changed"} hex
                                             lines; one {"ok": bool, "why": str} line each

`check` asserts what Flask-Session would see: the record flacon rewrote unchanged decodes
equal to the original, and the one flacon changed (a key "touched" set to 1) decodes equal
to the original plus that key, every other value exact.
"""

import datetime
import json
import random
import sys
import uuid

import msgspec

UTC = datetime.timezone.utc


def scalar(rng):
    kind = rng.randrange(12)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.randint(-(2**63), 2**64 - 1)
    if kind == 3:
        return rng.choice([0, 1, -1, 127, 128, -32, -33, 255, 256, 65535, 65536, 2**31, -(2**31) - 1])
    if kind == 4:
        return rng.choice([0.0, -0.0, 1.5, -2.25, 1e300, float("inf"), float("-inf"), rng.uniform(-1e6, 1e6)])
    if kind == 5:
        alphabet = "abcé€𝄞 \"\\\n\x00\x7f<>&'"
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(40)))
    if kind == 6:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
    if kind == 7:
        # Aware datetimes to the microsecond, before 1970 and past 2106 (timestamp64/96).
        seconds = rng.choice([rng.randint(-(2**35), 2**35), rng.randint(0, 2**32), 1714979289])
        micros = rng.choice([0, 1, 123456, 999999, rng.randrange(10**6)])
        base = datetime.datetime(1970, 1, 1, tzinfo=UTC)
        offset = datetime.timezone(datetime.timedelta(minutes=rng.choice([0, 120, -330])))
        try:
            return (base + datetime.timedelta(seconds=seconds, microseconds=micros)).astimezone(offset)
        except OverflowError:
            return base
    if kind == 8:
        # Naive datetimes, dates, UUIDs: msgspec writes them as strings.
        return rng.choice([
            datetime.datetime(2024, 5, 6, 7, 8, 9, rng.randrange(10**6)),
            datetime.date(2024, 1, rng.randint(1, 28)),
            uuid.UUID(int=rng.getrandbits(128)),
        ])
    if kind == 9:
        return "x" * rng.choice([31, 32, 255, 256, 70000])
    if kind == 10:
        return rng.choice([(1, "a"), {3, 1, 2}, frozenset(), ()])
    return rng.randint(-5, 5)


def key(rng):
    kind = rng.randrange(8)
    if kind < 4:
        return "k" + str(rng.randrange(1000))
    if kind == 4:
        return rng.randint(-(2**40), 2**40)
    if kind == 5:
        return rng.choice([None, True, False, 1.5])
    if kind == 6:
        return bytes([rng.randrange(256)])
    return (rng.randrange(3), "t")


def value(rng, depth):
    if depth >= 4 or rng.random() < 0.5:
        return scalar(rng)
    if rng.random() < 0.5:
        return [value(rng, depth + 1) for _ in range(rng.randrange(5))]
    return {key(rng): value(rng, depth + 1) for _ in range(rng.randrange(5))}


def session(rng):
    data = {"_permanent": True}
    for _ in range(rng.randrange(8)):
        data["k" + str(rng.randrange(1000))] = value(rng, 0)
    if rng.random() < 0.5:
        data["scores"] = {1: "gold", 2: {3: "silver"}}
    return data


def generate(count, seed):
    rng = random.Random(seed)
    for _ in range(count):
        print(json.dumps({"hex": msgspec.msgpack.encode(session(rng)).hex()}))


def check():
    decode = msgspec.msgpack.decode
    for line in sys.stdin:
        case = json.loads(line)
        original = decode(bytes.fromhex(case["original"]))
        rewritten = decode(bytes.fromhex(case["rewritten"]))
        changed = decode(bytes.fromhex(case["changed"]))
        want_changed = dict(original, touched=1)
        if rewritten != original:
            print(json.dumps({"ok": False, "why": f"rewritten {rewritten!r} != {original!r}"}))
        elif changed != want_changed:
            print(json.dumps({"ok": False, "why": f"changed {changed!r} != {want_changed!r}"}))
        else:
            print(json.dumps({"ok": True, "why": ""}))


if __name__ == "__main__":
    if sys.argv[1] == "generate":
        generate(int(sys.argv[2]), int(sys.argv[3]))
    else:
        check()
