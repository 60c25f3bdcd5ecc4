"""A TensorBoard event-file writer for scalars, in the standard library alone.

Both frameworks log through this one writer, so their runs carry the same
scalar names (`loss/d`, `loss/g`, `speed/images_per_s`) and neither worker
imports the other framework (torch's SummaryWriter and tf.summary would each
pull in their own framework; tensorboardX imports torch).

Format: TFRecord framing (uint64 length, masked CRC-32C of the length, the
record, masked CRC-32C of the record) around `Event` protocol buffers, encoded
here by hand: Event{1: wall_time double, 2: step int64, 3: file_version
string, 5: Summary{1: Value{1: tag string, 2: simple_value float}}}.
"""

from __future__ import annotations

import socket
import struct
import time
from pathlib import Path


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _field(number: int, wire_type: int, payload: bytes) -> bytes:
    return _varint(number << 3 | wire_type) + payload


def _bytes_field(number: int, data: bytes) -> bytes:
    return _field(number, 2, _varint(len(data)) + data)


def encode_event(wall_time: float, step: int, *, file_version: str | None = None,
                 scalars: dict[str, float] | None = None) -> bytes:
    event = _field(1, 1, struct.pack("<d", wall_time)) + _field(2, 0, _varint(step))
    if file_version is not None:
        event += _bytes_field(3, file_version.encode())
    if scalars:
        values = b"".join(
            _bytes_field(1, _bytes_field(1, tag.encode()) + _field(2, 5, struct.pack("<f", value)))
            for tag, value in scalars.items())
        event += _bytes_field(5, values)
    return event


def frame_record(data: bytes) -> bytes:
    length = struct.pack("<Q", len(data))
    return (length + struct.pack("<I", masked_crc32c(length)) + data
            + struct.pack("<I", masked_crc32c(data)))


class ScalarWriter:
    """Appends scalar events to `directory/events.out.tfevents.<time>.<host>`;
    flushed every `flush_every` events and on close."""

    def __init__(self, directory: Path, flush_every: int = 50) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}"
        self._file = open(self.path, "ab")
        self._flush_every = flush_every
        self._pending = 0
        self._file.write(frame_record(encode_event(time.time(), 0, file_version="brain.Event:2")))

    def add_scalars(self, step: int, scalars: dict[str, float]) -> None:
        self._file.write(frame_record(encode_event(time.time(), step, scalars=scalars)))
        self._pending += 1
        if self._pending >= self._flush_every:
            self._file.flush()
            self._pending = 0

    def close(self) -> None:
        self._file.close()
