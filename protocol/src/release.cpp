#include "seedbank/protocol/release.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>

#include <capnp/message.h>

namespace seedbank::protocol {
namespace {

namespace sc = seedbank::schema;

capnp::Data::Reader as_data(ByteView b) { return capnp::Data::Reader(b.data(), b.size()); }

template <typename List>
void set_text_list(List list, const std::vector<std::string>& values) {
  for (unsigned i = 0; i < values.size(); ++i) list.set(i, values[i]);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

struct TypeName {
  sc::ModelType type;
  std::string_view name;
};

constexpr std::array<TypeName, 16> kTypeNames = {{
    {sc::ModelType::CHECKPOINT, "Checkpoint"},
    {sc::ModelType::TEXTUAL_INVERSION, "TextualInversion"},
    {sc::ModelType::HYPERNETWORK, "Hypernetwork"},
    {sc::ModelType::AESTHETIC_GRADIENT, "AestheticGradient"},
    {sc::ModelType::LORA, "LORA"},
    {sc::ModelType::LOCON, "LoCon"},
    {sc::ModelType::DORA, "DoRA"},
    {sc::ModelType::CONTROLNET, "Controlnet"},
    {sc::ModelType::UPSCALER, "Upscaler"},
    {sc::ModelType::MOTION_MODULE, "MotionModule"},
    {sc::ModelType::VAE, "VAE"},
    {sc::ModelType::POSES, "Poses"},
    {sc::ModelType::WILDCARDS, "Wildcards"},
    {sc::ModelType::WORKFLOWS, "Workflows"},
    {sc::ModelType::DETECTION, "Detection"},
    {sc::ModelType::OTHER, "Other"},
}};

}  // namespace

void ReleaseFile::set_hashes(const FileDigests& d) {
  size = d.size;
  sha256 = d.sha256;
  autov1 = d.autov1;
  autov3 = d.autov3;
  crc32 = d.crc32;
  pieces_root = d.pieces_root;
}

void fill_release(const ReleaseDraft& d, sc::RecordBody::Builder body) {
  auto r = body.initPayload().initRelease();
  r.setModelName(d.model_name);
  r.setModelSlug(d.model_slug.empty() ? slugify(d.model_name) : d.model_slug);
  r.setVersionName(d.version_name);
  r.setType(d.type);
  r.setBaseModel(d.base_model);
  r.setDescription(d.description);
  if (!d.model_description.empty()) r.setModelDescription(d.model_description);
  set_text_list(r.initTags(static_cast<unsigned>(d.tags.size())), d.tags);
  set_text_list(r.initTriggerWords(static_cast<unsigned>(d.trigger_words.size())), d.trigger_words);
  auto license = r.initLicense();
  license.setName(d.license_name);
  auto uses = license.initAllowCommercialUse(static_cast<unsigned>(d.allow_commercial_use.size()));
  for (unsigned i = 0; i < d.allow_commercial_use.size(); ++i) uses.set(i, d.allow_commercial_use[i]);
  license.setAllowDerivatives(d.allow_derivatives);
  license.setAllowNoCredit(d.allow_no_credit);
  license.setAllowDifferentLicense(d.allow_different_license);

  auto files = r.initFiles(static_cast<unsigned>(d.files.size()));
  for (unsigned i = 0; i < d.files.size(); ++i) {
    const auto& f = d.files[i];
    auto out = files[i];
    out.setName(f.name);
    out.setSize(f.size);
    out.setRole(f.role);
    out.setFormat(f.format);
    out.setPrecision(f.precision);
    out.setPrimary(f.primary);
    auto h = out.initHashes();
    h.setSha256(as_data(f.sha256));
    h.setAutoV1(as_data(f.autov1));
    if (f.autov3) h.setAutoV3(as_data(*f.autov3));
    h.setCrc32(f.crc32);
    if (f.pieces_root) h.setPiecesRoot(as_data(*f.pieces_root));
  }
  auto images = r.initImages(static_cast<unsigned>(d.images.size()));
  for (unsigned i = 0; i < d.images.size(); ++i) {
    fill_sample_image(d.images[i], images[i]);
  }
  auto t = r.initTorrent();
  t.setInfoHashV2(as_data(d.info_hash_v2));
  if (d.info_hash_v1) t.setInfoHashV1(as_data(*d.info_hash_v1));
  t.setInfo(as_data(d.torrent_info));
  if (!d.torrent_piece_layers.empty()) t.setPieceLayers(as_data(d.torrent_piece_layers));
  set_text_list(t.initTrackers(static_cast<unsigned>(d.trackers.size())), d.trackers);
  if (d.supersedes) r.setSupersedes(as_data(*d.supersedes));
  r.setNsfw(d.nsfw);
  if (d.origin) {
    auto o = r.initOrigin();
    o.setSite(d.origin->site);
    o.setModelId(d.origin->model_id);
    o.setVersionId(d.origin->version_id);
    o.setCreator(d.origin->creator);
    o.setUrl(d.origin->url);
    auto list = o.initSha256(static_cast<unsigned>(d.origin->sha256.size()));
    for (unsigned i = 0; i < d.origin->sha256.size(); ++i) list.set(i, as_data(d.origin->sha256[i]));
  }
}

std::optional<Record> apply_update(const Record& release, const Record& update) {
  if (release.kind() != RecordKind::release || update.kind() != RecordKind::release_update ||
      release.author() != update.author())
    return std::nullopt;
  auto u = update.body().getPayload().getReleaseUpdate();
  if (u.getRelease().size() != 32 || std::memcmp(u.getRelease().begin(), release.id().data(), 32) != 0)
    return std::nullopt;
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<sc::SignedRecord>();
  root.setBody(release.body());
  root.setSignature(release.reader().getSignature());
  auto r = root.getBody().getPayload().getRelease();
  r.setModelDescription(u.getModelDescription());
  r.setDescription(u.getDescription());
  r.setTags(u.getTags());
  r.setTriggerWords(u.getTriggerWords());
  r.setNsfw(u.getNsfw());
  // The release's own images the update names, once each, in its order.
  auto own = release.body().getPayload().getRelease().getImages();
  std::vector<std::pair<unsigned, unsigned>> shown;  // (update's image, release's image)
  std::vector<bool> used(own.size());
  auto wanted = u.getImages();
  for (unsigned i = 0; i < wanted.size(); ++i)
    for (unsigned j = 0; j < own.size(); ++j) {
      auto a = wanted[i].getSha256(), b = own[j].getSha256();
      if (!used[j] && a.size() == 32 && b.size() == 32 && std::memcmp(a.begin(), b.begin(), 32) == 0) {
        used[j] = true;
        shown.emplace_back(i, j);
        break;
      }
    }
  auto images = r.initImages(static_cast<unsigned>(shown.size()));
  for (unsigned k = 0; k < shown.size(); ++k) {
    auto [i, j] = shown[k];
    images.setWithCaveats(k, own[j]);
    images[k].setNsfw(wanted[i].getNsfw());
    images[k].setNsfwLevel(wanted[i].getNsfwLevel());
    if (wanted[i].hasGeneration()) images[k].setGeneration(wanted[i].getGeneration());  // else the release's
  }
  auto words = capnp::canonicalize(root.asReader());
  auto bytes = words.asBytes();
  auto out = load_stored_record(ByteView(bytes.begin(), bytes.size()), &release.id());
  if (!out) return std::nullopt;
  return std::move(out).value();
}

std::optional<ReleaseOrigin> read_origin(sc::Release::Reader release) {
  if (!release.hasOrigin()) return std::nullopt;
  auto o = release.getOrigin();
  ReleaseOrigin out;
  out.site = o.getSite().cStr();
  out.model_id = o.getModelId();
  out.version_id = o.getVersionId();
  out.creator = o.getCreator().cStr();
  out.url = o.getUrl().cStr();
  for (auto d : o.getSha256())
    if (d.size() == 32) {
      Sha256Digest h{};
      std::copy(d.begin(), d.end(), h.begin());
      out.sha256.push_back(h);
    }
  return out;
}

void fill_sample_image(const ReleaseImage& img, sc::SampleImage::Builder out) {
  out.setName(img.name);
  out.setSha256(as_data(img.sha256));
  out.setSize(img.size);
  out.setWidth(img.width);
  out.setHeight(img.height);
  out.setMimeType(img.mime_type);
  out.setNsfw(img.nsfw || img.nsfw_level >= kR);
  if (img.nsfw_level) out.setNsfwLevel(img.nsfw_level);
  if (img.generation) fill_generation(*img.generation, out.initGeneration());
}

std::uint8_t nsfw_level_of(sc::SampleImage::Reader image, sc::Release::Reader release) {
  return std::max<std::uint8_t>(nsfw_level_of(image), release.getNsfw() ? kR : kPG);
}

std::uint8_t nsfw_level_of(sc::SampleImage::Reader image) {
  const std::uint8_t flagged = image.getNsfw() ? kR : kPG;  // never below what the flag says
  switch (image.getNsfwLevel()) {
    case kPG:
    case kPG13:
    case kR:
    case kX:
    case kXXX:
      return std::max(image.getNsfwLevel(), flagged);
    default:
      return flagged;
  }
}

std::optional<std::uint8_t> parse_nsfw_level(std::string_view text) {
  std::string t;
  for (char c : text) t.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  if (t == "PG" || t == "1") return kPG;
  if (t == "PG-13" || t == "PG13" || t == "2") return kPG13;
  if (t == "R" || t == "4") return kR;
  if (t == "X" || t == "8") return kX;
  if (t == "XXX" || t == "16") return kXXX;
  return std::nullopt;
}

std::string_view civitai_nsfw_name(std::uint8_t level) {
  if (level >= kX) return "X";
  if (level >= kR) return "Mature";
  if (level >= kPG13) return "Soft";
  return "None";
}

void fill_generation(const GenerationParams& g, sc::GenerationParams::Builder out) {
  out.setPrompt(g.prompt);
  out.setNegativePrompt(g.negative_prompt);
  if (g.steps) out.setSteps(*g.steps);
  out.setSampler(g.sampler);
  if (g.cfg_scale) out.setCfgScale(*g.cfg_scale);
  if (g.seed) {
    out.setSeed(*g.seed);
    out.setHasSeed(true);
  }
  if (g.width) out.setWidth(*g.width);
  if (g.height) out.setHeight(*g.height);
  out.setModelHash(g.model_hash);
  out.setModelName(g.model_name);
  auto settings = out.initSettings(static_cast<unsigned>(g.settings.size()));
  for (unsigned i = 0; i < g.settings.size(); ++i) {
    settings[i].setKey(g.settings[i].first);
    settings[i].setValue(g.settings[i].second);
  }
  out.setComfyPrompt(g.comfy_prompt);
  out.setComfyWorkflow(g.comfy_workflow);
  out.setRaw(g.raw);
}

GenerationParams read_generation(sc::GenerationParams::Reader in) {
  GenerationParams g;
  g.prompt = in.getPrompt();
  g.negative_prompt = in.getNegativePrompt();
  if (in.getSteps()) g.steps = in.getSteps();
  g.sampler = in.getSampler();
  if (in.getCfgScale() != 0) g.cfg_scale = in.getCfgScale();
  if (in.getHasSeed()) g.seed = in.getSeed();
  if (in.getWidth()) g.width = in.getWidth();
  if (in.getHeight()) g.height = in.getHeight();
  g.model_hash = in.getModelHash();
  g.model_name = in.getModelName();
  for (auto s : in.getSettings()) g.settings.emplace_back(s.getKey(), s.getValue());
  g.comfy_prompt = in.getComfyPrompt();
  g.comfy_workflow = in.getComfyWorkflow();
  g.raw = in.getRaw();
  return g;
}

std::string slugify(std::string_view name) {
  std::string out;
  bool dash = false;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) && u < 0x80) {
      if (dash && !out.empty()) out += '-';
      out += static_cast<char>(std::tolower(u));
      dash = false;
    } else {
      dash = true;
    }
  }
  if (out.size() > 96) out.resize(96);
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

std::string_view model_type_name(sc::ModelType type) {
  for (const auto& t : kTypeNames)
    if (t.type == type) return t.name;
  return "Other";
}

std::optional<sc::ModelType> parse_model_type(std::string_view name) {
  std::string n = lower(name);
  for (const auto& t : kTypeNames)
    if (lower(t.name) == n) return t.type;
  if (n == "embedding" || n == "ti" || n == "textual-inversion") return sc::ModelType::TEXTUAL_INVERSION;
  if (n == "lycoris") return sc::ModelType::LOCON;
  if (n == "controlnet" || n == "control-net") return sc::ModelType::CONTROLNET;
  if (n == "motion" || n == "animatediff") return sc::ModelType::MOTION_MODULE;
  return std::nullopt;
}

std::vector<std::string_view> model_type_names() {
  std::vector<std::string_view> out;
  for (const auto& t : kTypeNames) out.push_back(t.name);
  return out;
}

const std::vector<std::string_view>& known_base_models() {
  static const std::vector<std::string_view> kNames = {
      "SD 1.4",         "SD 1.5",        "SD 1.5 LCM",     "SD 1.5 Hyper",  "SD 2.0",         "SD 2.0 768",
      "SD 2.1",         "SD 2.1 768",    "SD 2.1 Unclip",  "SDXL 0.9",      "SDXL 1.0",       "SDXL 1.0 LCM",
      "SDXL Distilled", "SDXL Turbo",    "SDXL Lightning", "SDXL Hyper",    "Pony",           "Illustrious",
      "NoobAI",         "SD 3",          "SD 3.5",         "SD 3.5 Medium", "SD 3.5 Large",   "SD 3.5 Large Turbo",
      "Flux.1 S",       "Flux.1 D",      "Flux.1 Kontext", "AuraFlow",      "Stable Cascade", "SVD",
      "SVD XT",         "Playground v2", "PixArt a",       "PixArt E",      "Hunyuan 1",      "Hunyuan Video",
      "Lumina",         "Kolors",        "Mochi",          "LTXV",          "CogVideoX",      "Wan Video",
      "HiDream",        "Chroma",        "Qwen",           "Other"};
  return kNames;
}

}  // namespace seedbank::protocol
