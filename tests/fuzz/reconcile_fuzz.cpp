// Fuzzes the reconciliation message decoder and a reply over a small fixed
// set: any bytes must give a clean error or a well-formed reply, never a
// crash, and a reply must itself decode.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "seedbank/protocol/reconcile.h"

using namespace seedbank::protocol;
using namespace seedbank::protocol::reconcile;

namespace {

const std::vector<Item>& items() {
  static const std::vector<Item> set = [] {
    std::vector<Item> v;
    for (std::uint8_t i = 0; i < 40; ++i) {
      Item it;
      it.time = 1000u + i / 3u;  // runs of equal timestamps
      it.id.fill(static_cast<std::uint8_t>(i * 37));
      it.id[31] = i;
      v.push_back(it);
    }
    std::sort(v.begin(), v.end());
    return v;
  }();
  return set;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteView message(data, size);
  bool valid = validate_message(message).ok();
  Reconciler r(items());
  Outcome outcome;
  auto reply = r.reply(message, &outcome);
  if (reply.ok() != valid) std::abort();
  if (reply.ok() && !reply->empty() && !validate_message(*reply).ok()) std::abort();
  return 0;
}
