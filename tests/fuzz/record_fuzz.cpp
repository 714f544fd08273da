// Fuzzes the record decoder: arbitrary bytes through verify_record and
// load_stored_record must never crash, leak or hit UB. When bytes verify,
// they must be canonical: re-encoding gives the same bytes and the same id.
#include <capnp/message.h>

#include <cstdint>
#include <cstdlib>

#include "seedbank/protocol/record.h"

using namespace seedbank::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteView bytes(data, size);
  auto rec = verify_record(bytes, "fuzz");
  if (rec.ok()) {
    auto again = capnp::canonicalize(rec->reader());
    auto b = again.asBytes();
    if (b.size() != size || !std::equal(b.begin(), b.end(), data)) std::abort();
    if (record_id_of(bytes) != rec->id()) std::abort();
  }
  // The trusted path must also survive garbage (a damaged disk).
  auto stored = load_stored_record(bytes);
  if (stored.ok()) (void)validate_body(stored->body());
  return 0;
}
