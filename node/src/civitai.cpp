#include "civitai.h"

#include <openssl/evp.h>

#include <cstring>
#include <ctime>

#include "seedbank/node/torrents.h"
#include "seedbank/protocol/release.h"
#include "views.h"

namespace seedbank::node {

namespace p = seedbank::protocol;

std::uint64_t civitai_id(const p::Sha256Digest& d) {
  std::uint64_t v = 0;
  for (int i = 0; i < 7; ++i) v = (v << 8) | d[static_cast<std::size_t>(i)];
  v >>= 3;  // 53 bits
  return v ? v : 1;
}

std::uint64_t civitai_model_id(const p::PublicKey& author, std::string_view slug) {
  std::string input = "seedbank/model/v1";
  input.push_back('\0');
  input.append(reinterpret_cast<const char*>(author.bytes.data()), 32);
  input.append(slug);
  p::Sha256Digest d{};
  unsigned n = 0;
  EVP_Digest(input.data(), input.size(), d.data(), &n, EVP_sha256(), nullptr);
  return civitai_id(d);
}

std::string civitai_file_type(schema::FileRole role) {
  switch (role) {
    case schema::FileRole::MODEL: return "Model";
    case schema::FileRole::PRUNED_MODEL: return "Pruned Model";
    case schema::FileRole::TRAINING_DATA: return "Training Data";
    case schema::FileRole::CONFIG: return "Config";
    case schema::FileRole::ARCHIVE: return "Archive";
    case schema::FileRole::VAE: return "VAE";
    default: return "Other";
  }
}

std::string civitai_format(schema::FileFormat format) {
  switch (format) {
    case schema::FileFormat::SAFE_TENSOR: return "SafeTensor";
    case schema::FileFormat::PICKLE_TENSOR: return "PickleTensor";
    case schema::FileFormat::GGUF: return "GGUF";
    case schema::FileFormat::DIFFUSERS: return "Diffusers";
    case schema::FileFormat::ONNX: return "ONNX";
    default: return "Other";
  }
}

std::string civitai_precision(schema::Precision precision) {
  switch (precision) {
    case schema::Precision::FP32: return "fp32";
    case schema::Precision::FP16: return "fp16";
    case schema::Precision::BF16: return "bf16";
    case schema::Precision::FP8: return "fp8";
    case schema::Precision::NF4: return "nf4";
    default: return "";
  }
}

std::string iso8601(std::uint64_t unix_ms) {
  std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03uZ", buf, static_cast<unsigned>(unix_ms % 1000));
  return out;
}

namespace {

p::Sha256Digest digest_of(capnp::Data::Reader d) {
  p::Sha256Digest out{};
  if (d.size() == 32) std::memcpy(out.data(), d.begin(), 32);
  return out;
}

std::string upper_hex(capnp::Data::Reader d, std::size_t bytes) {
  return p::to_hex_upper(p::ByteView(d.begin(), std::min<std::size_t>(bytes, d.size())));
}

}  // namespace

nlohmann::ordered_json civitai_model_version(const p::Record& record, const indexer::Index& index,
                                             const CivitaiLinks& links) {
  auto body = record.body();
  auto r = body.getPayload().getRelease();
  auto version_id = civitai_id(record.id());
  auto model_id = civitai_model_id(record.author(), r.getModelSlug().cStr());
  std::string release_hex = p::to_hex(record.id());
  auto magnet = magnet_of(r, false);
  std::string download = links.base_url.empty() ? (magnet ? *magnet : std::string())
                                                : links.base_url + "/api/download/models/" + std::to_string(version_id);

  nlohmann::ordered_json files = nlohmann::ordered_json::array();
  bool any_primary = false;
  for (auto f : r.getFiles()) any_primary = any_primary || f.getPrimary();
  for (unsigned i = 0; i < r.getFiles().size(); ++i) {
    auto f = r.getFiles()[i];
    auto h = f.getHashes();
    nlohmann::ordered_json hashes = {{"AutoV1", upper_hex(h.getAutoV1(), 4)},
                                     {"AutoV2", upper_hex(h.getSha256(), 5)},
                                     {"SHA256", upper_hex(h.getSha256(), 32)},
                                     {"CRC32", p::to_hex_upper(p::ByteView(std::array<std::uint8_t, 4>{
                                                   static_cast<std::uint8_t>(h.getCrc32() >> 24),
                                                   static_cast<std::uint8_t>(h.getCrc32() >> 16),
                                                   static_cast<std::uint8_t>(h.getCrc32() >> 8),
                                                   static_cast<std::uint8_t>(h.getCrc32())}))}};
    if (h.getAutoV3().size()) hashes["AutoV3"] = upper_hex(h.getAutoV3(), 6);
    nlohmann::ordered_json metadata = {{"format", civitai_format(f.getFormat())}};
    auto fp = civitai_precision(f.getPrecision());
    metadata["fp"] = fp.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(fp);
    metadata["size"] = f.getRole() == schema::FileRole::PRUNED_MODEL ? "pruned" : "full";
    files.push_back({{"id", civitai_id(digest_of(h.getSha256()))},
                     {"name", f.getName().cStr()},
                     {"sizeKB", static_cast<double>(f.getSize()) / 1024.0},
                     {"type", civitai_file_type(f.getRole())},
                     {"primary", f.getPrimary() || (!any_primary && i == 0)},
                     {"metadata", metadata},
                     {"pickleScanResult", f.getFormat() == schema::FileFormat::PICKLE_TENSOR ? "Danger" : "Success"},
                     {"hashes", hashes},
                     {"downloadUrl", download + (links.base_url.empty() ? "" : "?file=" + std::string(f.getName().cStr()))}});
  }
  nlohmann::ordered_json images = nlohmann::ordered_json::array();
  for (auto img : r.getImages()) {
    std::string sha = p::to_hex(p::ByteView(img.getSha256().begin(), img.getSha256().size()));
    nlohmann::ordered_json meta = generation_meta_json(p::read_generation(img.getGeneration()));
    images.push_back({{"url", links.base_url.empty() ? std::string(img.getName().cStr())
                                                      : links.base_url + "/api/images/" + sha},
                      {"nsfw", img.getNsfw()},
                      {"width", img.getWidth()},
                      {"height", img.getHeight()},
                      {"hash", sha},
                      {"type", "image"},
                      {"meta", meta.empty() ? nlohmann::ordered_json(nullptr) : meta}});
  }
  auto rating = index.rating(record.id());
  nlohmann::ordered_json trained = nlohmann::ordered_json::array();
  for (auto w : r.getTriggerWords()) trained.push_back(w.cStr());
  auto t = r.getTorrent();
  nlohmann::ordered_json out = {
      {"id", version_id},
      {"modelId", model_id},
      {"name", r.getVersionName().cStr()},
      {"createdAt", iso8601(body.getCreatedAt())},
      {"updatedAt", iso8601(body.getCreatedAt())},
      {"trainedWords", trained},
      {"baseModel", r.getBaseModel().cStr()},
      {"description", r.getDescription().cStr()},
      {"stats",
       {{"downloadCount", 0},
        {"ratingCount", rating.count},
        {"rating", rating.mean()},
        {"thumbsUpCount", 0}}},
      {"model",
       {{"name", r.getModelName().cStr()}, {"type", std::string(p::model_type_name(r.getType()))}, {"nsfw", r.getNsfw()},
        {"poi", false}}},
      {"files", files},
      {"images", images},
      {"downloadUrl", download},
      {"seedbank",
       {{"releaseId", release_hex},
        {"creator", record.author().to_text()},
        {"modelSlug", r.getModelSlug().cStr()},
        {"infoHashV2", p::to_hex(p::ByteView(t.getInfoHashV2().begin(), t.getInfoHashV2().size()))},
        {"infoHashV1", t.getInfoHashV1().size() ? nlohmann::ordered_json(p::to_hex(p::ByteView(
                                                      t.getInfoHashV1().begin(), t.getInfoHashV1().size())))
                                                : nlohmann::ordered_json(nullptr)},
        {"magnet", magnet ? *magnet : std::string()},
        {"license", r.getLicense().getName().cStr()}}}};
  return out;
}

}  // namespace seedbank::node
