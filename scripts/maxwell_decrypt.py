#!/usr/bin/env python3
"""Decrypts Maxwell's encrypted records (`encrypt=data` / `encrypt=all` with `secret_key`) with
an implementation independent of maxwell-ha's: Python's `cryptography` package, following the
scheme Maxwell 1.22.6 documents in its code (RowEncrypt, EncryptingJsonGenerator):

  "encrypted":{"iv":"<base64 16 bytes>","bytes":"<base64 AES-CBC, PKCS#7 padding>"}

with the key being secret_key's UTF-8 bytes (16, 24 or 32: AES-128/192/256). With
encrypt=data the plaintext is {"data":{...},"old":{...}} and stands where `data` was; with
encrypt=all it is the whole record and the line is {"encrypted":{...}}.

  maxwell_decrypt.py KEY [--field NAME] < lines
      prints every JSON line with its record decrypted (unencrypted records unchanged); with
      --field, the record is line[NAME] (e.g. `value` of tests/kafka_tool.py's output).
"""
import base64, json, sys


class Malformed(ValueError):
    pass


def decrypt_text(key, enc):
    """The plaintext (str, as it was encrypted) of an "encrypted" object."""
    # Imported here: a caller that meets no encrypted record needs no `cryptography`.
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    if not isinstance(enc, dict) or sorted(enc) != ["bytes", "iv"]:
        raise Malformed(f"an encrypted object has exactly iv and bytes, not {enc!r}")
    iv, ct = base64.b64decode(enc["iv"], validate=True), base64.b64decode(enc["bytes"], validate=True)
    if len(iv) != 16 or not ct or len(ct) % 16:
        raise Malformed(f"IV of {len(iv)} bytes, ciphertext of {len(ct)} bytes")
    d = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = d.update(ct) + d.finalize()
    u = padding.PKCS7(128).unpadder()
    return (u.update(padded) + u.finalize()).decode("utf-8")


def plain(record, key):
    """(the record as it is without encryption, mode "data" | "all" | None, plaintext)."""
    if not isinstance(record, dict) or "encrypted" not in record:
        return record, None, None
    text = decrypt_text(key, record["encrypted"])
    inner = json.loads(text)
    if list(record) == ["encrypted"]:
        return inner, "all", text
    if not isinstance(inner, dict) or "data" not in inner or set(inner) - {"data", "old"}:
        raise Malformed(f"encrypt=data plaintext must be {{data[, old]}}, not {text[:200]!r}")
    out = {}
    for k, v in record.items():
        if k == "encrypted":
            out.update(inner)
        else:
            out[k] = v
    return out, "data", text


def main():
    args = sys.argv[1:]
    if not args:
        raise SystemExit(__doc__)
    key = args[0].encode("utf-8")
    field = args[args.index("--field") + 1] if "--field" in args else None
    for line in sys.stdin:
        if not line.strip():
            continue
        obj = json.loads(line)
        if field is None:
            obj = plain(obj, key)[0]
        else:
            obj[field] = plain(obj[field], key)[0]
        print(json.dumps(obj, ensure_ascii=False))


if __name__ == "__main__":
    main()
