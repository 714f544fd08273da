#include "civitai.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <ctime>

#include "one_file.h"
#include "seedbank/node/torrents.h"
#include "seedbank/protocol/content_hash.h"
#include "seedbank/protocol/image_meta.h"
#include "seedbank/protocol/release.h"
#include "views.h"

namespace seedbank::node {

namespace p = seedbank::protocol;

std::uint64_t civitai_id(const p::Sha256Digest& d) { return indexer::numeric_id(d); }

std::uint8_t CivitaiLinks::level_of(schema::SampleImage::Reader image, schema::Release::Reader release) const {
  return image_level ? image_level(image, release) : p::nsfw_level_of(image, release);
}

std::uint64_t civitai_model_id(const p::PublicKey& author, std::string_view slug) {
  return indexer::numeric_id(indexer::model_key(author, slug));
}

std::uint64_t civitai_image_id(const p::RecordId& record, const p::Sha256Digest& image) {
  // The record's id commits to the image's bytes, so no one can choose
  // the two halves apart: an id is as hard to copy as 53 bits of a hash.
  const auto both = p::sha256_pair(record, image);
  std::uint64_t r = 0, i = 0;
  for (std::size_t k = 0; k < 3; ++k) r = (r << 8) | record[k];
  for (std::size_t k = 0; k < 4; ++k) i = (i << 8) | both[k];
  const std::uint64_t id = (r << 29) | (i >> 3);  // 24 + 29 = 53 bits
  return id ? id : 1;
}

p::Bytes civitai_image_record_prefix(std::uint64_t image_id) {
  const std::uint64_t r = image_id >> 29;
  return {static_cast<std::uint8_t>(r >> 16), static_cast<std::uint8_t>(r >> 8), static_cast<std::uint8_t>(r)};
}

std::string civitai_file_type(schema::FileRole role) {
  switch (role) {
    case schema::FileRole::MODEL:
      return "Model";
    case schema::FileRole::PRUNED_MODEL:
      return "Pruned Model";
    case schema::FileRole::TRAINING_DATA:
      return "Training Data";
    case schema::FileRole::CONFIG:
      return "Config";
    case schema::FileRole::ARCHIVE:
      return "Archive";
    case schema::FileRole::VAE:
      return "VAE";
    default:
      return "Other";
  }
}

std::string civitai_format(schema::FileFormat format) {
  switch (format) {
    case schema::FileFormat::SAFE_TENSOR:
      return "SafeTensor";
    case schema::FileFormat::PICKLE_TENSOR:
      return "PickleTensor";
    case schema::FileFormat::GGUF:
      return "GGUF";
    case schema::FileFormat::DIFFUSERS:
      return "Diffusers";
    case schema::FileFormat::ONNX:
      return "ONNX";
    default:
      return "Other";
  }
}

std::string_view civitai_commercial_use(schema::CommercialUse use) {
  static constexpr std::string_view kUses[] = {"Image", "RentCivit", "Rent", "Sell"};
  auto i = static_cast<unsigned>(use);
  return i < std::size(kUses) ? kUses[i] : std::string_view();
}

std::string civitai_precision(schema::Precision precision) {
  switch (precision) {
    case schema::Precision::FP32:
      return "fp32";
    case schema::Precision::FP16:
      return "fp16";
    case schema::Precision::BF16:
      return "bf16";
    case schema::Precision::FP8:
      return "fp8";
    case schema::Precision::NF4:
      return "nf4";
    default:
      return "";
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

void write_stats(JsonOut& out, const RatingSummary& s, std::uint64_t downloads) {
  out.begin_object()
      .field("downloadCount", downloads)
      .field("ratingCount", s.aggregate.count)
      .field("rating", std::round(s.aggregate.mean() * 100) / 100)
      .field("thumbsUpCount", s.thumbs_up)
      .field("thumbsDownCount", s.thumbs_down)
      .field("favoriteCount", 0)
      .field("commentCount", s.comments)
      .end_object();
}

std::string upper_hex(capnp::Data::Reader d, std::size_t bytes) {
  return p::to_hex_upper(p::ByteView(d.begin(), std::min<std::size_t>(bytes, d.size())));
}

std::string hex_of(capnp::Data::Reader d) { return p::to_hex(p::ByteView(d.begin(), d.size())); }

// A version's (and its model's) level: its most explicit image's, and R at
// least when the release is marked NSFW.
std::uint8_t release_level(schema::Release::Reader r, const CivitaiLinks& links) {
  std::uint8_t level = r.getNsfw() ? p::kR : p::kPG;
  for (auto img : r.getImages()) level = std::max(level, links.level_of(img, r));
  return level;
}

// AIR identifiers (urn:air:<ecosystem>:<type>:<source>:<id>@<version>),
// with "seedbank" as the source, since the ids are this network's.
std::string air_ecosystem(std::string_view base_model) {
  std::string b;
  for (char c : base_model) b.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (b.rfind("sdxl", 0) == 0 || b.rfind("pony", 0) == 0 || b.rfind("illustrious", 0) == 0) return "sdxl";
  if (b.rfind("flux", 0) == 0) return "flux1";
  if (b.rfind("sd 3", 0) == 0) return "sd3";
  if (b.rfind("sd 2", 0) == 0) return "sd2";
  return "sd1";
}

std::string air_type(schema::ModelType type) {
  switch (type) {
    case schema::ModelType::CHECKPOINT:
      return "checkpoint";
    case schema::ModelType::TEXTUAL_INVERSION:
      return "embedding";
    case schema::ModelType::HYPERNETWORK:
      return "hypernet";
    case schema::ModelType::VAE:
      return "vae";
    case schema::ModelType::CONTROLNET:
      return "controlnet";
    case schema::ModelType::LORA:
    case schema::ModelType::LOCON:
    case schema::ModelType::DORA:
      return "lora";
    default:
      return "other";
  }
}

}  // namespace

void write_generation_meta(JsonOut& out, const p::GenerationParams& g) {
  out.begin_object();
  std::vector<std::string_view> written;
  auto put = [&](std::string_view k) -> JsonOut& {
    written.push_back(k);
    return out.key(k);
  };
  if (!g.prompt.empty()) put("prompt").value(g.prompt);
  if (!g.negative_prompt.empty()) put("negativePrompt").value(g.negative_prompt);
  if (g.steps) put("steps").value(static_cast<std::uint64_t>(*g.steps));
  if (!g.sampler.empty()) put("sampler").value(g.sampler);
  if (g.cfg_scale) put("cfgScale").value(*g.cfg_scale);
  if (g.seed) put("seed").value(static_cast<std::int64_t>(*g.seed));
  if (g.width && g.height) put("Size").value(std::to_string(*g.width) + "x" + std::to_string(*g.height));
  if (!g.model_hash.empty()) put("Model hash").value(g.model_hash);
  if (!g.model_name.empty()) put("Model").value(g.model_name);
  if (auto resources = p::generation_resources(g); !resources.empty()) {
    put("resources").begin_array();
    for (const auto& r : resources) {
      out.begin_object().field("hash", r.hash).field("name", r.name).field("type", r.type);
      if (r.weight) out.field("weight", *r.weight);
      out.end_object();
    }
    out.end_array();
  }
  static const char* typed[] = {"Steps", "Sampler", "CFG scale", "Seed", "Size", "Model hash", "Model"};
  for (const auto& [key, value] : g.settings) {
    bool skip = false;
    for (const char* t : typed) skip = skip || key == t;
    for (auto w : written) skip = skip || key == w;
    if (!skip) put(key).value(value);
  }
  if (!g.comfy_prompt.empty()) put("comfy").value(g.comfy_prompt);
  if (!g.comfy_workflow.empty()) put("workflow").value(g.comfy_workflow);
  out.end_object();
}

VersionStats write_model_version(JsonOut& out, const p::Record& signed_release, const indexer::Index& index,
                                 const CivitaiLinks& links, bool nested) {
  // As its author's update shows it; the signed release stays verifiable.
  const auto update = index.updated(signed_release);
  const p::Record& record = update ? update->shown : signed_release;
  auto body = record.body();
  auto r = body.getPayload().getRelease();
  auto version_id = civitai_id(record.id());
  auto model_id = civitai_model_id(record.author(), r.getModelSlug().cStr());
  auto magnet = magnet_of(r, false);
  std::string download = links.base_url.empty() ? (magnet ? *magnet : std::string())
                                                : links.base_url + "/api/download/models/" + std::to_string(version_id);
  auto summary = rating_summary(index, record.id());
  auto t = r.getTorrent();

  out.begin_object()
      .field("id", version_id)
      .field("modelId", model_id)
      .field("name", r.getVersionName().cStr())
      .field("createdAt", iso8601(body.getCreatedAt()))
      .field("updatedAt", iso8601(update ? update->updated_at : body.getCreatedAt()))
      .field("publishedAt", iso8601(body.getCreatedAt()));
  out.key("trainedWords").begin_array();
  for (auto w : r.getTriggerWords()) out.value(w.cStr());
  out.end_array();
  out.field("baseModel", r.getBaseModel().cStr())
      .field("baseModelType", "Standard")
      .field("description", r.getDescription().cStr())
      .field("nsfwLevel", static_cast<std::uint32_t>(release_level(r, links)))
      .field("status", "Published")
      .field("availability", "Public")
      .field("air", "urn:air:" + air_ecosystem(r.getBaseModel().cStr()) + ":" + air_type(r.getType()) +
                        ":seedbank:" + std::to_string(model_id) + "@" + std::to_string(version_id));
  VersionStats stats{summary, links.seeders ? links.seeders(digest_of(t.getInfoHashV2())) : 0};
  out.key("stats");
  write_stats(out, summary, stats.downloads);
  if (!nested) {
    out.key("model")
        .begin_object()
        .field("name", r.getModelName().cStr())
        .field("type", p::model_type_name(r.getType()))
        .field("nsfw", r.getNsfw())
        .field("poi", false)
        .end_object();
  }

  out.key("files").begin_array();
  bool any_primary = false;
  for (auto f : r.getFiles()) any_primary = any_primary || f.getPrimary();
  for (unsigned i = 0; i < r.getFiles().size(); ++i) {
    auto f = r.getFiles()[i];
    auto h = f.getHashes();
    auto file_id = civitai_id(digest_of(h.getSha256()));
    std::uint32_t crc = h.getCrc32();
    std::array<std::uint8_t, 4> crc_bytes{static_cast<std::uint8_t>(crc >> 24), static_cast<std::uint8_t>(crc >> 16),
                                          static_cast<std::uint8_t>(crc >> 8), static_cast<std::uint8_t>(crc)};
    out.begin_object()
        .field("id", file_id)
        .field("name", f.getName().cStr())
        .field("sizeKB", static_cast<double>(f.getSize()) / 1024.0)
        .field("type", civitai_file_type(f.getRole()))
        .field("primary", f.getPrimary() || (!any_primary && i == 0));
    out.key("metadata").begin_object().field("format", civitai_format(f.getFormat()));
    auto fp = civitai_precision(f.getPrecision());
    out.key("fp");
    if (fp.empty())
      out.null();
    else
      out.value(fp);
    out.field("size", f.getRole() == schema::FileRole::PRUNED_MODEL ? "pruned" : "full").end_object();
    out.field("pickleScanResult", f.getFormat() == schema::FileFormat::PICKLE_TENSOR ? "Danger" : "Success")
        .field("pickleScanMessage", f.getFormat() == schema::FileFormat::PICKLE_TENSOR
                                        ? "a Python pickle: loading it runs code"
                                        : "no pickle: its publisher's node found the format by its content")
        .field("virusScanResult", "Pending")  // no virus scanner runs here
        .field("scannedAt", iso8601(body.getCreatedAt()));
    out.key("hashes")
        .begin_object()
        .field("AutoV1", upper_hex(h.getAutoV1(), 4))
        .field("AutoV2", upper_hex(h.getSha256(), 5))
        .field("SHA256", upper_hex(h.getSha256(), 32))
        .field("CRC32", p::to_hex_upper(p::ByteView(crc_bytes)));
    if (h.getAutoV3().size()) out.field("AutoV3", upper_hex(h.getAutoV3(), 6));
    out.end_object();
    // The primary file's URL is the version's, bare: tools append
    // "?token=..." to it as they do on Civitai.
    bool primary = f.getPrimary() || (!any_primary && i == 0);
    out.field("downloadUrl",
              download + (links.base_url.empty() || primary ? std::string() : "?fileId=" + std::to_string(file_id)));
    out.end_object();
  }
  out.end_array();

  out.key("images").begin_array();
  for (auto img : r.getImages()) {
    std::string sha = hex_of(img.getSha256());
    auto level = links.level_of(img, r);
    out.begin_object()
        .field("id", civitai_image_id(record.id(), digest_of(img.getSha256())))
        .field("url",
               links.base_url.empty() ? std::string(img.getName().cStr()) : links.base_url + "/api/images/" + sha)
        .field("nsfw", level >= p::kR)
        .field("nsfwLevel", static_cast<std::uint32_t>(level))
        .field("width", img.getWidth())
        .field("height", img.getHeight())
        .field("hash", sha)
        .field("type", p::is_video_type(img.getMimeType().cStr()) ? "video" : "image");
    out.key("meta");
    auto g = p::read_generation(img.getGeneration());
    bool empty = g.prompt.empty() && g.negative_prompt.empty() && !g.steps && g.sampler.empty() && !g.cfg_scale &&
                 !g.seed && !(g.width && g.height) && g.model_hash.empty() && g.model_name.empty() &&
                 g.settings.empty() && g.comfy_prompt.empty() && g.comfy_workflow.empty();
    if (empty)
      out.null();
    else
      write_generation_meta(out, g);
    out.end_object();
  }
  out.end_array();
  out.field("downloadUrl", download);
  out.key("seedbank")
      .begin_object()
      .field("releaseId", p::to_hex(record.id()))
      .field("creator", record.author().to_text())
      .field("modelSlug", r.getModelSlug().cStr())
      .field("infoHashV2", hex_of(t.getInfoHashV2()));
  out.key("infoHashV1");
  if (t.getInfoHashV1().size())
    out.value(hex_of(t.getInfoHashV1()));
  else
    out.null();
  out.field("magnet", magnet ? *magnet : std::string());
  auto compat = magnet_of(r, true);
  out.field("magnetV1Compat", compat ? *compat : std::string());
  out.field("license", r.getLicense().getName().cStr()).field("retracted", index.is_retracted(record.id()));
  // The author's update of the page, if any (`seedbank record export` of
  // either id gives the signed bytes).
  out.field("modelDescription", r.getModelDescription().cStr()).field("nsfw", r.getNsfw());
  out.key("tags").begin_array();  // this version's own (the model's are its newest version's)
  for (auto tag : r.getTags()) out.value(tag.cStr());
  out.end_array();
  // Sample images the author's update stopped showing (still in the torrent).
  out.key("hiddenImages").begin_array();
  for (auto own : signed_release.body().getPayload().getRelease().getImages()) {
    bool shown = false;
    for (auto img : r.getImages()) shown = shown || img.getSha256() == own.getSha256();
    if (!shown) out.value(hex_of(own.getSha256()));
  }
  out.end_array();
  out.key("update");
  if (update)
    out.begin_object()
        .field("recordId", p::to_hex(update->update))
        .field("updatedAt", iso8601(update->updated_at))
        .end_object();
  else
    out.null();
  // A mirror: signed by `creator` (the mirrorer), never by the creator
  // named here; how many other keys mirrored the same origin and bytes.
  out.key("mirror");
  if (auto origin = p::read_origin(r)) {
    out.begin_object()
        .field("site", origin->site)
        .field("modelId", origin->model_id)
        .field("versionId", origin->version_id)
        .field("creator", origin->creator)
        .field("url", origin->url)
        .field("signedBy", record.author().to_text())
        .field("signedByName", display_name(index, record.author()))
        .key("agreeing");
    // Counted on a version's own answer, not in listings (index lookups).
    if (nested)
      out.null();
    else
      out.value(static_cast<std::uint64_t>(agreeing_mirrors(record, index)));
    out.end_object();
  } else {
    out.null();
  }
  out.end_object();
  out.end_object();
  return stats;
}

nlohmann::ordered_json civitai_model_version(const p::Record& record, const indexer::Index& index,
                                             const CivitaiLinks& links) {
  JsonOut out;
  write_model_version(out, record, index, links, false);
  return nlohmann::ordered_json::parse(out.str());
}

std::string display_name(const indexer::Index& index, const p::PublicKey& author) {
  auto id = index.current(p::RecordKind::profile, author);
  if (!id) return "";
  auto rec = index.get(*id);
  if (!rec) return "";
  return rec->body().getPayload().getProfile().getDisplayName().cStr();
}

p::PublicKey current_identity(const indexer::Index& index, p::PublicKey key) {
  for (int hops = 0; hops < 8; ++hops) {  // a chain of rotations; 8 is plenty and ends any loop
    auto r = index.rotation(key);
    if (!r) break;
    key = r->new_key;
  }
  return key;
}

std::string username_of(const indexer::Index& index, const p::PublicKey& author) {
  auto identity = current_identity(index, author);
  auto name = display_name(index, identity);
  return name.empty() ? identity.to_text() : name;
}

RatingSummary rating_summary(const indexer::Index& index, const p::RecordId& release) {
  RatingSummary out;
  out.aggregate = index.rating(release);
  out.thumbs_up = out.aggregate.thumbs_up;
  out.thumbs_down = out.aggregate.thumbs_down;
  out.comments = out.aggregate.reviews;
  return out;
}

void write_creator(JsonOut& out, const p::PublicKey& author, const indexer::Index& index, const CivitaiLinks& links,
                   std::optional<std::uint64_t> model_count) {
  std::string name, bio, image;
  std::vector<std::string> profile_links;
  // Releases of a rotated key show under the key it rotated to.
  auto identity = current_identity(index, author);
  if (auto id = index.current(p::RecordKind::profile, identity)) {
    if (auto rec = index.get(*id)) {
      auto pr = rec->body().getPayload().getProfile();
      name = pr.getDisplayName().cStr();
      bio = pr.getBio().cStr();
      if (pr.getAvatar().size() == 32) image = links.base_url + "/api/images/" + hex_of(pr.getAvatar());
      for (auto l : pr.getLinks()) profile_links.emplace_back(l.cStr());
    }
  }
  std::string key = author.to_text();
  out.begin_object().field("username", name.empty() ? identity.to_text() : name).key("image");
  if (image.empty())
    out.null();
  else
    out.value(image);
  if (model_count) {
    out.field("modelCount", *model_count).field("link", links.base_url + "/api/v1/models?username=" + key);
  }
  out.key("seedbank").begin_object().field("key", key).field("displayName", name).field("bio", bio);
  out.key("rotatedTo");
  if (identity == author)
    out.null();
  else
    out.value(identity.to_text());
  out.key("links").begin_array();
  for (const auto& l : profile_links) out.value(l);
  out.end_array().end_object().end_object();
}

void write_model(JsonOut& out, const indexer::ModelInfo& model, const p::Record& signed_head,
                 const indexer::Index& index, const CivitaiLinks& links) {
  const auto updated_head = index.updated(signed_head);
  const p::Record& head = updated_head ? updated_head->shown : signed_head;
  auto r = head.body().getPayload().getRelease();
  auto license = r.getLicense();
  // The versions first (their stats add up to the model's), then the model
  // around them.
  JsonOut versions;
  versions.begin_array();
  std::uint64_t downloads = 0;
  // The model's description: the newest listed version's that has one (a
  // version published without one keeps the model's), else the head's notes
  // (releases made before model descriptions).
  std::string description;
  for (const auto& id : model.versions) {
    auto rec = index.get(id);
    if (!rec || index.is_retracted(id) || (links.hidden && links.hidden(*rec))) continue;
    downloads += write_model_version(versions, *rec, index, links, true).downloads;
    if (description.empty()) {
      auto u = index.updated(*rec);
      description = (u ? u->shown : *rec).body().getPayload().getRelease().getModelDescription();
    }
  }
  if (description.empty()) description = r.getDescription();
  versions.end_array();
  RatingSummary total;  // the model's: every listed version's ratings
  total.aggregate = model.rating;
  total.thumbs_up = model.rating.thumbs_up;
  total.thumbs_down = model.rating.thumbs_down;
  total.comments = model.rating.reviews;

  out.begin_object()
      .field("id", indexer::numeric_id(model.key))
      .field("name", r.getModelName().cStr())
      .field("description", description)
      .field("type", p::model_type_name(r.getType()))
      .field("poi", false)
      .field("nsfw", r.getNsfw())
      .field("nsfwLevel", static_cast<std::uint32_t>(release_level(r, links)))
      .field("allowNoCredit", license.getAllowNoCredit());
  out.key("allowCommercialUse").begin_array();
  for (auto u : license.getAllowCommercialUse())
    if (auto name = civitai_commercial_use(u); !name.empty()) out.value(name);
  out.end_array();
  out.field("allowDerivatives", license.getAllowDerivatives())
      .field("allowDifferentLicense", license.getAllowDifferentLicense());
  out.key("stats");
  write_stats(out, total, downloads);
  out.key("creator");
  write_creator(out, head.author(), index, links, std::nullopt);
  out.key("tags").begin_array();
  for (auto t : r.getTags()) out.value(t.cStr());
  out.end_array();
  out.key("modelVersions").raw(versions.str());
  out.key("seedbank")
      .begin_object()
      .field("creator", head.author().to_text())
      .field("slug", r.getModelSlug().cStr())
      .field("modelKey", p::to_hex(model.key))
      .field("license", license.getName().cStr())
      .end_object();
  out.end_object();
}

}  // namespace seedbank::node
