// CRC-32 by folding with carry-less multiplication.
//
// The data is viewed as a polynomial M over GF(2); the raw CRC is
// M·x^32 mod P. Folding replaces a 128-bit chunk A that lies D bits before
// the chunk C by A·x^D mod P, which keeps the whole message congruent mod P
// while shortening it. Four 128-bit lanes are folded 512 bits at a time, then
// onto each other, and the final 16 bytes are reduced with zlib's table.
//
// Bit order: the CRC is reflected, so a little-endian 128-bit load R of a
// chunk A is rev128(A), and clmul(rev64(a), rev64(b)) == rev128(a·b·x). Each
// fold constant is therefore rev64(x^(k-1) mod P). The constants are computed
// here from P rather than tabulated, and the unit tests compare every length
// and alignment with zlib.
#include "seedbank/protocol/crc32.h"

#include <zlib.h>

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace seedbank::protocol {
namespace {

constexpr std::uint32_t kPolynomial = 0x04C11DB7;  // x^32 + ... (normal form)

// x^k mod P as a 32-bit polynomial, bit i = coefficient of x^i.
constexpr std::uint32_t x_pow_mod(unsigned k) {
  std::uint32_t r = 1;
  for (unsigned i = 0; i < k; ++i) {
    bool carry = (r & 0x80000000u) != 0;
    r <<= 1;
    if (carry) r ^= kPolynomial;
  }
  return r;
}

constexpr std::uint64_t reverse64(std::uint64_t v) {
  std::uint64_t r = 0;
  for (int i = 0; i < 64; ++i) r |= ((v >> i) & 1u) << (63 - i);
  return r;
}

// The pair of constants that fold a 128-bit register forward by `distance` bits.
struct FoldConstants {
  std::uint64_t for_low;   // multiplies the low 64 bits (the higher-degree half)
  std::uint64_t for_high;  // multiplies the high 64 bits
};

constexpr FoldConstants fold_constants(unsigned distance) {
  return {reverse64(x_pow_mod(distance + 64 - 1)), reverse64(x_pow_mod(distance - 1))};
}

constexpr FoldConstants kFold512 = fold_constants(512);
constexpr FoldConstants kFold384 = fold_constants(384);
constexpr FoldConstants kFold256 = fold_constants(256);
constexpr FoldConstants kFold128 = fold_constants(128);

#if defined(__x86_64__)
__attribute__((target("pclmul,sse4.1"))) inline __m128i fold(__m128i r, FoldConstants k) {
  __m128i constants = _mm_set_epi64x(static_cast<long long>(k.for_high), static_cast<long long>(k.for_low));
  __m128i lo = _mm_clmulepi64_si128(r, constants, 0x00);  // r.low * for_low
  __m128i hi = _mm_clmulepi64_si128(r, constants, 0x11);  // r.high * for_high
  return _mm_xor_si128(lo, hi);
}

// Folds `blocks` 64-byte blocks (blocks >= 1); returns the CRC state after them.
__attribute__((target("pclmul,sse4.1"))) std::uint32_t crc32_clmul(std::uint32_t crc, const std::uint8_t* p,
                                                                   std::size_t blocks) {
  auto load = [](const std::uint8_t* q) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(q)); };
  __m128i a = load(p), b = load(p + 16), c = load(p + 32), d = load(p + 48);
  // Starting from `crc` is the same as xoring ~crc into the first 4 bytes
  // and starting a raw CRC from zero (zlib inverts before and after).
  a = _mm_xor_si128(a, _mm_cvtsi32_si128(static_cast<int>(~crc)));
  p += 64;
  for (std::size_t i = 1; i < blocks; ++i, p += 64) {
    a = _mm_xor_si128(fold(a, kFold512), load(p));
    b = _mm_xor_si128(fold(b, kFold512), load(p + 16));
    c = _mm_xor_si128(fold(c, kFold512), load(p + 32));
    d = _mm_xor_si128(fold(d, kFold512), load(p + 48));
  }
  __m128i r = _mm_xor_si128(_mm_xor_si128(fold(a, kFold384), fold(b, kFold256)), _mm_xor_si128(fold(c, kFold128), d));
  alignas(16) std::uint8_t tail[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(tail), r);
  // raw(tail) with a zero start is zlib's crc32 started from 0xffffffff, inverted;
  // the final inversion cancels it.
  return static_cast<std::uint32_t>(::crc32(0xffffffffu, tail, 16));
}

bool cpu_has_clmul() {
  static const bool has = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
  return has;
}
#endif

}  // namespace

std::uint32_t crc32_update_portable(std::uint32_t crc, ByteView data) {
  // zlib takes uInt lengths; feed it in pieces that fit.
  constexpr std::size_t kStep = 1u << 30;
  const std::uint8_t* p = data.data();
  std::size_t left = data.size();
  while (left > 0) {
    std::size_t n = left < kStep ? left : kStep;
    crc = static_cast<std::uint32_t>(::crc32(crc, p, static_cast<uInt>(n)));
    p += n;
    left -= n;
  }
  return crc;
}

std::uint32_t crc32_update(std::uint32_t crc, ByteView data) {
#if defined(__x86_64__)
  if (data.size() >= 64 && cpu_has_clmul()) {
    std::size_t blocks = data.size() / 64;
    crc = crc32_clmul(crc, data.data(), blocks);
    data = data.subspan(blocks * 64);
  }
#endif
  return crc32_update_portable(crc, data);
}

}  // namespace seedbank::protocol
