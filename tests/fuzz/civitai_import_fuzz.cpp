// Fuzzes the Civitai JSON import (.civitai.info / API model-version objects):
// arbitrary text must never crash, leak or hit UB, and every string it
// returns must be valid UTF-8 (it ends up in signed records).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "seedbank/protocol/civitai_import.h"
#include "seedbank/protocol/text.h"

using namespace seedbank::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = parse_civitai_version_json(text, "fuzz.civitai.info");
  if (r.ok()) {
    for (const auto* s : {&r->model_name, &r->version_name, &r->type, &r->base_model, &r->description})
      if (!valid_utf8(*s)) std::abort();
    for (const auto& img : r->images)
      if (img.meta && !valid_utf8(img.meta->prompt)) std::abort();
  }
  (void)generation_from_civitai_meta(text);
  return 0;
}
