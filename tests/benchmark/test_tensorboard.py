"""The standard-library TensorBoard writer produces files TensorBoard's own
protocol buffers read back (checked with tensorboardX's generated classes)."""

import struct

import pytest

from benchmark.tensorboard import ScalarWriter, crc32c, masked_crc32c


def test_crc32c_matches_the_standard_check_value():
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C catalogue's check value


def read_records(path):
    data = path.read_bytes()
    offset, records = 0, []
    while offset < len(data):
        header = data[offset:offset + 8]
        (length,) = struct.unpack("<Q", header)
        assert struct.unpack("<I", data[offset + 8:offset + 12])[0] == masked_crc32c(header)
        record = data[offset + 12:offset + 12 + length]
        (crc,) = struct.unpack("<I", data[offset + 12 + length:offset + 16 + length])
        assert crc == masked_crc32c(record)
        records.append(record)
        offset += 16 + length
    return records


def test_scalar_events_decode_as_tensorboard_events(tmp_path):
    event_pb2 = pytest.importorskip("tensorboardX.proto.event_pb2")
    writer = ScalarWriter(tmp_path)
    writer.add_scalars(7, {"loss/d": 0.5, "loss/g": 2.25})
    writer.close()
    first, second = (event_pb2.Event.FromString(r) for r in read_records(writer.path))
    assert first.file_version == "brain.Event:2"
    assert second.step == 7 and second.wall_time > 0
    assert {v.tag: v.simple_value for v in second.summary.value} == {"loss/d": 0.5, "loss/g": 2.25}
