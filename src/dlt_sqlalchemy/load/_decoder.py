"""Decodes a typed-jsonl load file into an Arrow IPC stream on stdout (run as a subprocess).

    python -m dlt_sqlalchemy.load._decoder PATH COLUMNS_JSON [STRIDE OFFSET]

Used when `readers.DECODE_IN_SUBPROCESS_BYTES` is set: for tables whose lines the fast decoder
(`jsonl_arrow`) refuses, decoding is Python-bound (orjson builds an object per value, and the GIL
serializes that with everything else in the process), and in processes of their own the lines
are decoded on the other cores while the load job feeds the database. With STRIDE and OFFSET the
process takes lines OFFSET, OFFSET + STRIDE, ... and writes one batch for each of them (empty
for a blank line), so that the reader can interleave several decoders back into the file's
order.
"""

from __future__ import annotations

import json
import sys


def main() -> int:
    import pyarrow as pa
    from dlt.common.storages import FileStorage

    from dlt_sqlalchemy.load.jsonl_arrow import JsonlDecoder, iter_lines

    path, columns_json = sys.argv[1], sys.argv[2]
    stride, offset = (int(sys.argv[3]), int(sys.argv[4])) if len(sys.argv) > 4 else (1, 0)
    decoder = JsonlDecoder(json.loads(columns_json))
    empty = pa.RecordBatch.from_pylist([], schema=decoder.schema)
    with (
        pa.ipc.new_stream(sys.stdout.buffer, decoder.schema) as stream,
        FileStorage.open_zipsafe_ro(path, "rb") as f,
    ):
        for number, line in enumerate(iter_lines(f)):
            if number % stride != offset:
                continue
            batch = decoder.decode(line)
            stream.write_batch(empty if batch is None else batch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
