// CRC-32 (IEEE 802.3, reflected, the value zlib's crc32() returns).
#pragma once

#include <cstdint>

#include "seedbank/protocol/bytes.h"

namespace seedbank::protocol {

// Continues a CRC: crc32_update(crc32_update(0, a), b) == crc32 of a ++ b,
// exactly as zlib's crc32(crc, buf, len). Uses carry-less multiplication
// (PCLMULQDQ) when the CPU has it, zlib otherwise. Thread-safe.
std::uint32_t crc32_update(std::uint32_t crc, ByteView data);

// The portable path alone, for tests that compare the two.
std::uint32_t crc32_update_portable(std::uint32_t crc, ByteView data);

}  // namespace seedbank::protocol
