#include "seedbank/node/publish.h"

#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "files.h"
#include "seedbank/protocol/civitai_import.h"
#include "seedbank/protocol/image_meta.h"
#include "seedbank/protocol/model_format.h"
#include "seedbank/protocol/release.h"
#include "seedbank/protocol/safetensors.h"
#include "torrent_builder.h"

namespace seedbank::node {
namespace {

namespace p = seedbank::protocol;
namespace sc = seedbank::schema;
using p::ErrorCode;
using p::make_error;

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

constexpr std::uint64_t kMaxCivitaiJson = 16u << 20;  // a .civitai.info is a few KB

// One input file after validation, before hashing.
struct Candidate {
  std::filesystem::path path;
  std::string name;
  std::optional<std::filesystem::path> link_target;  // `path` is a symbolic link to this
  bool image = false;
  FileIdentity identity;
  // models
  sc::FileFormat format = sc::FileFormat::OTHER;
  sc::FileRole role = sc::FileRole::OTHER;
  sc::Precision precision = sc::Precision::UNKNOWN;
  std::optional<p::ModelHints> hints;
  // images
  p::ImageInfo image_info;
  std::optional<p::GenerationParams> generation;
};

sc::Precision precision_of(const std::string& s) {
  if (s == "fp16") return sc::Precision::FP16;
  if (s == "fp32") return sc::Precision::FP32;
  if (s == "bf16") return sc::Precision::BF16;
  if (s == "fp8") return sc::Precision::FP8;
  return sc::Precision::UNKNOWN;
}

sc::FileRole role_for(const std::filesystem::path& path, p::ModelFileFormat format) {
  auto ext = lower(path.extension().string());
  if (format != p::ModelFileFormat::unknown) return sc::FileRole::MODEL;
  if (ext == ".yaml" || ext == ".yml" || ext == ".json") return sc::FileRole::CONFIG;
  if (ext == ".zip" || ext == ".tar" || ext == ".gz" || ext == ".7z") return sc::FileRole::ARCHIVE;
  return sc::FileRole::OTHER;
}

p::Status check_common(const std::filesystem::path& path, Candidate* c) {
  if (auto st = check_regular_file(path); !st) return st.error();
  c->path = path;
  c->name = path.filename().string();
  std::error_code ec;
  if (std::filesystem::is_symlink(path, ec)) {
    auto target = std::filesystem::canonical(path, ec);
    c->link_target = ec ? std::filesystem::read_symlink(path, ec) : target;
  }
  if (auto st = p::validate_file_name(c->name); !st)
    return make_error(ErrorCode::invalid_argument, path.string() + ": " + st.error().message);
  auto id = file_identity(path);
  if (!id) return id.error();
  c->identity = *id;
  if (c->identity.size == 0)
    return make_error(ErrorCode::invalid_argument, path.string() + ": the file is empty; there is nothing to share");
  return {};
}

p::Result<Candidate> check_model(const std::filesystem::path& path, bool allow_unsafe) {
  Candidate c;
  if (auto st = check_common(path, &c); !st) return st.error();
  auto prefix = p::read_file_prefix(path);
  if (!prefix) return prefix.error();
  auto detection = p::detect_model_format(*prefix, c.name);
  // A name tools trust must match the content: a pickle named .safetensors
  // would be loaded as safe by some, and text named .safetensors is no model.
  if (detection.mislabeled) return make_error(ErrorCode::invalid_argument, path.string() + ": " + detection.detail);
  switch (detection.format) {
    case p::ModelFileFormat::safetensors: {
      auto header = p::read_safetensors_header(path);
      if (!header) return header.error();
      c.hints = p::derive_model_hints(*header);
      c.format = sc::FileFormat::SAFE_TENSOR;
      c.precision = precision_of(c.hints->precision);
      break;
    }
    case p::ModelFileFormat::pickle:
      if (!allow_unsafe)
        return make_error(ErrorCode::unsafe, path.string() + ": " + detection.detail +
                                                 ". Publish a safetensors file instead, or pass --allow-unsafe to "
                                                 "share it anyway (it will be marked unsafe)");
      c.format = sc::FileFormat::PICKLE_TENSOR;
      break;
    case p::ModelFileFormat::gguf:
      c.format = sc::FileFormat::GGUF;
      break;
    case p::ModelFileFormat::onnx:
      c.format = sc::FileFormat::ONNX;
      break;
    case p::ModelFileFormat::unknown:
      c.format = sc::FileFormat::OTHER;
      break;
  }
  c.role = role_for(path, detection.format);
  return c;
}

p::Result<Candidate> check_image(const std::filesystem::path& path) {
  Candidate c;
  c.image = true;
  if (auto st = check_common(path, &c); !st) return st.error();
  auto info = p::read_image_file(path);
  if (!info) return info.error();
  c.image_info = *info;
  c.generation = p::generation_params_from_image(*info);
  return c;
}

p::Result<std::vector<sc::CommercialUse>> parse_commercial_use(const std::vector<std::string>& values) {
  std::vector<sc::CommercialUse> out;
  for (const auto& raw : values) {
    std::stringstream ss(raw);
    std::string v;
    while (std::getline(ss, v, ',')) {
      auto l = lower(v);
      l.erase(0, l.find_first_not_of(' '));
      l.erase(l.find_last_not_of(' ') + 1);
      if (l.empty() || l == "none") continue;
      if (l == "image")
        out.push_back(sc::CommercialUse::IMAGE);
      else if (l == "rentcivit")
        out.push_back(sc::CommercialUse::RENT_CIVIT);
      else if (l == "rent")
        out.push_back(sc::CommercialUse::RENT);
      else if (l == "sell")
        out.push_back(sc::CommercialUse::SELL);
      else
        return make_error(ErrorCode::invalid_argument,
                          "--allow-commercial-use: '" + v + "' is not one of None, Image, RentCivit, Rent, Sell");
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string first_nonempty(std::initializer_list<std::string> values) {
  for (const auto& v : values)
    if (!v.empty()) return v;
  return {};
}

p::Result<p::RecordId> parse_release_id(const std::string& hex) {
  auto id = p::from_hex_fixed<32>(hex);
  if (!id)
    return make_error(ErrorCode::invalid_argument,
                      "--supersedes: '" + hex + "' is not a release id (64 hex digits, see `seedbank releases`)");
  return *id;
}

// Steps 1 and 2 of publishing, shared by publish() and preview_publish():
// every input checked and the metadata chosen, nothing hashed or written.
// A preview leaves a missing type to the form (a warning says so).
struct Prepared {
  std::vector<Candidate> inputs;  // models first, then images, in the request's order
  std::optional<p::CivitaiImport> civitai;
  p::ReleaseDraft draft;
  std::vector<std::string> warnings;
  std::optional<std::string> type_missing;  // only in a preview: the error publishing gives
};

p::Result<Prepared> prepare(const PublishRequest& req, bool preview) {
  Prepared out;
  auto& inputs = out.inputs;
  auto& civitai = out.civitai;
  auto& draft = out.draft;
  // ---- 1. validate every input before anything is written ----
  if (req.files.empty()) return make_error(ErrorCode::invalid_argument, "give at least one model file to publish");
  std::set<std::string> names;
  for (const auto& f : req.files) {
    auto c = check_model(f, req.allow_unsafe);
    if (!c) return c.error();
    inputs.push_back(std::move(*c));
  }
  for (const auto& f : req.images) {
    auto c = check_image(f);
    if (!c) return c.error();
    inputs.push_back(std::move(*c));
  }
  for (const auto& c : inputs)
    if (c.link_target)
      out.warnings.push_back(c.path.string() + " is a symbolic link to " + c.link_target->string() +
                             ": that file's content is published under the name '" + c.name + "'");
  for (const auto& c : inputs)
    if (!names.insert(c.name).second)
      return make_error(ErrorCode::invalid_argument,
                        "two files are named '" + c.name + "'; names must be unique within a release");

  if (req.civitai_json) {
    // Regular and small, checked before it is read: /dev/zero or a FIFO
    // would never end, a model file given by mistake fill the memory.
    if (auto st = check_regular_file(*req.civitai_json); !st) return st.error();
    std::error_code ec;
    if (std::filesystem::file_size(*req.civitai_json, ec) > kMaxCivitaiJson)
      return make_error(ErrorCode::limit, req.civitai_json->string() + ": larger than " +
                                              std::to_string(kMaxCivitaiJson >> 20) +
                                              " MiB, so not a .civitai.info or model-version JSON");
    std::ifstream in(*req.civitai_json, std::ios::binary);
    if (!in) return make_error(ErrorCode::not_found, req.civitai_json->string() + ": cannot read");
    std::string text(kMaxCivitaiJson + 1, '\0');  // and no more, whatever the file became meanwhile
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxCivitaiJson)
      return make_error(ErrorCode::limit, req.civitai_json->string() + ": larger than " +
                                              std::to_string(kMaxCivitaiJson >> 20) +
                                              " MiB, so not a .civitai.info or model-version JSON");
    auto parsed = p::parse_civitai_version_json(text, req.civitai_json->string());
    if (!parsed) return parsed.error();
    civitai = std::move(*parsed);
  }
  const Candidate& primary = inputs.front();
  const p::ModelHints hints = primary.hints.value_or(p::ModelHints{});

  // ---- 2. metadata: flags, then the Civitai import, then the file's own ----
  draft.model_name =
      first_nonempty({req.name, civitai ? civitai->model_name : "", hints.title, primary.path.stem().string()});
  draft.version_name = first_nonempty({req.version, civitai ? civitai->version_name : "", "v1.0"});
  std::string type_name = first_nonempty({req.type, civitai ? civitai->type : "", hints.type});
  const std::string no_type = "the model type is unknown: pass --type (Checkpoint, LORA, TextualInversion, ...)";
  if (type_name.empty() && !preview) return make_error(ErrorCode::invalid_argument, no_type);
  if (type_name.empty()) {
    out.type_missing = no_type;  // a preview fills in the rest for the form, which asks for the type
    out.warnings.push_back(no_type);
  } else {
    auto type = p::parse_model_type(type_name);
    if (!type)
      return make_error(ErrorCode::invalid_argument,
                        "'" + type_name + "' is not a model type; see `seedbank publish --help`");
    draft.type = *type;
  }
  draft.base_model = first_nonempty({req.base_model, civitai ? civitai->base_model : "", hints.base_model});
  if (!draft.base_model.empty()) {
    bool known = false;
    for (auto b : p::known_base_models()) known = known || lower(std::string(b)) == lower(draft.base_model);
    if (!known)
      out.warnings.push_back("base model '" + draft.base_model +
                             "' is not one Civitai lists; tools that filter by base model may not find it");
  }
  draft.description = first_nonempty({req.description, civitai ? civitai->description : "", hints.description});
  draft.model_description = first_nonempty({req.model_description, civitai ? civitai->model_description : ""});
  draft.tags = req.tags;
  if (civitai)
    for (const auto& t : civitai->tags)
      if (std::find(draft.tags.begin(), draft.tags.end(), t) == draft.tags.end()) draft.tags.push_back(t);
  draft.trigger_words = !req.trigger_words.empty()                     ? req.trigger_words
                        : (civitai && !civitai->trained_words.empty()) ? civitai->trained_words
                                                                       : hints.trigger_words;
  draft.license_name = first_nonempty({req.license, hints.license});
  auto uses = parse_commercial_use(req.commercial_use);
  if (!uses) return uses.error();
  draft.allow_commercial_use = *uses;
  // Flags first; a mirror keeps the permissions its origin recorded.
  if (req.commercial_use.empty() && civitai && !civitai->allow_commercial_use.empty()) {
    auto imported = parse_commercial_use(civitai->allow_commercial_use);
    if (imported) draft.allow_commercial_use = *imported;
  }
  // A mirror whose origin recorded no permissions claims none: credit
  // required, no derivatives, the same license, no commercial use.
  const bool open_default = !req.origin;
  auto imported = [&](const std::optional<bool>& v) { return civitai && v ? *v : open_default; };
  draft.allow_derivatives =
      req.allow_derivatives.value_or(imported(civitai ? civitai->allow_derivatives : std::nullopt));
  draft.allow_no_credit = req.allow_no_credit.value_or(imported(civitai ? civitai->allow_no_credit : std::nullopt));
  draft.allow_different_license =
      req.allow_different_license.value_or(imported(civitai ? civitai->allow_different_license : std::nullopt));
  if (req.origin && draft.license_name.empty()) draft.license_name = "As on the original page";
  draft.origin = req.origin;
  draft.nsfw = req.nsfw || (civitai && civitai->nsfw) || req.image_nsfw_level >= p::kR;
  draft.trackers = req.trackers;

  return out;
}

// Which release this one supersedes: req.supersedes, else (unless a
// mirror, or supersede_by_name is off) the key's latest of the same model
// name. (A mirror supersedes nothing by name: mirrors of unrelated models
// that share a name are not versions of one another.)
p::Status choose_supersedes(PublishTarget& target, const p::SecretKey& key, const PublishRequest& req,
                            p::ReleaseDraft* draft, std::vector<std::string>* warnings) {
  if ((req.origin || !req.supersede_by_name) && req.supersedes.empty()) return {};
  if (!req.supersedes.empty()) {
    auto id = parse_release_id(req.supersedes);
    if (!id) return id.error();
    auto prev = target.index.get(*id);
    if (prev && prev->kind() != p::RecordKind::release)
      return make_error(ErrorCode::invalid_argument, "--supersedes: " + req.supersedes + " is not a release");
    if (!prev) warnings->push_back("superseded release " + req.supersedes + " is not in the local index");
    draft->supersedes = *id;
  } else {
    indexer::ReleaseQuery q;
    q.creator = key.public_key();
    q.text = draft->model_name;
    q.limit = 100;
    auto page = target.index.query_releases(q);
    if (page) {
      for (const auto& r : page->items) {
        if (std::string(r.body().getPayload().getRelease().getModelSlug().cStr()) == p::slugify(draft->model_name)) {
          draft->supersedes = r.id();
          break;
        }
      }
    }
  }
  return {};
}

}  // namespace

nlohmann::ordered_json published_file_json(const PublishedFile& f, bool pieces_root) {
  const auto& d = f.digests;
  nlohmann::ordered_json hashes = {{"SHA256", d.sha256_hex()}, {"AutoV1", d.autov1_hex()}, {"AutoV2", d.autov2_hex()}};
  if (d.autov3) hashes["AutoV3"] = d.autov3_hex();
  hashes["CRC32"] = d.crc32_hex();
  nlohmann::ordered_json out = {
      {"name", f.name}, {"kind", f.image ? "image" : "model"}, {"size", d.size}, {"hashes", hashes}};
  if (pieces_root) out["piecesRoot"] = d.pieces_root ? nlohmann::ordered_json(p::to_hex(*d.pieces_root)) : nullptr;
  out["storedNew"] = f.stored_new;
  return out;
}

p::Result<PublishPreview> preview_publish(PublishTarget& target, const p::SecretKey& key, const PublishRequest& req) {
  auto prepared = prepare(req, true);
  if (!prepared) return prepared.error();
  PublishPreview out;
  out.warnings = std::move(prepared->warnings);
  if (auto st = choose_supersedes(target, key, req, &prepared->draft, &out.warnings); !st) return st.error();
  out.draft = std::move(prepared->draft);
  out.type_missing = prepared->type_missing;
  for (const auto& c : prepared->inputs) {
    PublishPreview::Input in;
    in.name = c.name;
    in.image = c.image;
    in.size = c.identity.size;
    in.format = c.format;
    in.precision = c.precision;
    in.width = c.image_info.width;
    in.height = c.image_info.height;
    in.mime_type = c.image_info.mime_type;
    in.generation = c.generation;
    out.inputs.push_back(std::move(in));
  }
  // A Civitai image's generation data stands in for a local image's
  // missing one, by position, as publish() signs it.
  std::size_t k = 0;
  for (auto& in : out.inputs) {
    if (!in.image) continue;
    if (!in.generation && prepared->civitai && k < prepared->civitai->images.size())
      in.generation = prepared->civitai->images[k].meta;
    ++k;
  }
  return out;
}

p::Result<PublishResult> publish(PublishTarget& target, const p::SecretKey& key, const PublishRequest& req,
                                 const p::ProgressFn& progress) {
  PublishResult result;
  auto prepared = prepare(req, false);
  if (!prepared) return prepared.error();
  auto& inputs = prepared->inputs;
  auto& civitai = prepared->civitai;
  auto& draft = prepared->draft;
  result.warnings = std::move(prepared->warnings);
  // ---- 3. hash every file once ----
  std::uint64_t total = 0;
  for (const auto& c : inputs) total += c.identity.size;
  const std::uint64_t piece_size = choose_piece_size(total);
  p::HashOptions options;
  options.piece_size = piece_size;
  options.v1_pieces = !req.v2_only;
  // libtorrent pads every file of a multi-file hybrid torrent to a piece
  // boundary (the last one too, since 2.0.8), and a single file not at all.
  options.pad_last_v1_piece = inputs.size() > 1;
  // (Copying into the store in this same read was measured slower: the
  // writes take CPU from the hashing threads, while copy_file_range after
  // hashing runs in the kernel. The copy is checked against the hash by the
  // file's identity before and after.)
  std::uint64_t before = 0;
  auto hash_start = std::chrono::steady_clock::now();
  for (const auto& c : inputs) {
    auto d = p::hash_file(c.path, options, [&](std::uint64_t done, std::uint64_t) {
      if (progress) progress(before + done, total);
    });
    if (!d) return d.error();
    before += c.identity.size;
    result.files.push_back(PublishedFile{c.name, c.image, false, std::move(*d)});
  }
  result.hash_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - hash_start).count();

  // Identical bytes are one file: say so when another key's release names
  // one of these model files already (the index then answers every hash of
  // it with one release: the creator's own before mirrors, see resolve).
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].image) continue;
    auto matches = target.index.find_by_hash("sha256:" + p::to_hex(result.files[i].digests.sha256), 16);
    if (!matches) continue;
    for (const auto& m : *matches) {
      if (m.file == indexer::kReleaseLevel || (m.file & indexer::kImageFlag)) continue;
      auto rec = target.index.get(m.release);
      if (!rec || rec->author() == key.public_key() ||
          std::find(result.already_named_by.begin(), result.already_named_by.end(), rec->id()) !=
              result.already_named_by.end())
        continue;
      auto r = rec->body().getPayload().getRelease();
      result.already_named_by.push_back(rec->id());
      result.warnings.push_back(inputs[i].name +
                                " is already on the network: " + (p::is_mirror(r) ? "a mirror, " : "") +
                                r.getModelName().cStr() + " " + r.getVersionName().cStr() + ", release " +
                                p::to_hex(rec->id()).substr(0, 12) + ", signed by " + rec->author().to_text() +
                                "; identical bytes are one file, so resolve and by-hash answer with one release "
                                "(a creator's own before mirrors)");
    }
  }

  // ---- 4. the torrent ----
  std::string slug = p::slugify(draft.model_name);
  std::string version_slug = p::slugify(draft.version_name);
  result.torrent_name = slug.empty() ? "release" : slug;
  if (!version_slug.empty()) result.torrent_name += "-" + version_slug;
  std::vector<TorrentInput> torrent_files;
  for (const auto& f : result.files)
    torrent_files.push_back(TorrentInput{(f.image ? "images/" : "") + f.name, &f.digests});
  auto torrent = build_torrent(result.torrent_name, torrent_files, piece_size, req.v2_only);
  if (!torrent) return torrent.error();
  result.piece_size = piece_size;
  result.magnet = magnet_link(torrent->info_hash_v2, torrent->info_hash_v1, result.torrent_name, req.trackers);

  // Publishing the same torrent again is a no-op.
  auto existing = target.index.find_by_hash(p::to_hex(torrent->info_hash_v2));
  if (existing) {
    for (const auto& m : *existing) {
      if (m.type != indexer::HashType::btih_v2) continue;
      auto rec = target.index.get(m.release);
      if (rec && rec->author() == key.public_key() && !target.index.is_retracted(m.release)) {
        result.record = std::move(*rec);
        result.already_published = true;
        break;
      }
    }
  }

  // ---- 5. which release this one supersedes ----
  if (!result.already_published)
    if (auto st = choose_supersedes(target, key, req, &draft, &result.warnings); !st) return st.error();

  // ---- 6. files into the store (rolled back if the record fails) ----
  auto store_lock = target.store.lock();  // held until the record is indexed
  if (!store_lock) return store_lock.error();
  std::vector<p::Sha256Digest> added;
  std::vector<SharedFile> in_place;  // model files shared where they are (req.in_place)
  auto rollback = [&] {
    for (const auto& h : added) target.store.remove(h);
    std::vector<std::filesystem::path> paths;
    for (const auto& f : in_place) paths.push_back(f.path);
    if (!paths.empty()) (void)target.store.unshare(paths, &*store_lock, /*leave_out=*/false);
  };
  auto store_start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    auto changed = [&] {
      rollback();
      return make_error(ErrorCode::conflict, inputs[i].path.string() +
                                                 ": the file changed while it was being published; publish again "
                                                 "once nothing is writing to it");
    };
    auto now = file_identity(inputs[i].path);
    if (!now || !(*now == inputs[i].identity)) return changed();
    if (req.in_place && !inputs[i].image) {
      auto where = std::filesystem::absolute(inputs[i].path).lexically_normal();
      in_place.push_back(SharedFile{where, result.files[i].digests.sha256, inputs[i].identity});
      if (auto st = target.store.share({in_place.back()}, &*store_lock); !st) {
        rollback();
        return st.error();
      }
      continue;
    }
    // A hard link to a symbolic link would hold the link, not the file.
    const bool link =
        req.link || std::find(req.link_files.begin(), req.link_files.end(), inputs[i].path) != req.link_files.end();
    const auto& source = link && inputs[i].link_target ? *inputs[i].link_target : inputs[i].path;
    auto stored = target.store.add(source, result.files[i].digests.sha256,
                                   link ? ContentStore::AddMode::hardlink : ContentStore::AddMode::copy);
    if (!stored) {
      rollback();
      return stored.error();
    }
    result.files[i].stored_new = stored->was_new;
    if (stored->was_new) added.push_back(result.files[i].digests.sha256);
    auto after = file_identity(inputs[i].path);
    if (!after || !after->same_content(inputs[i].identity)) return changed();  // link(2) changes the ctime
  }
  result.store_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - store_start).count();
  if (result.already_published) return result;

  // ---- 7. the signed record ----
  bool primary_set = false;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const auto& c = inputs[i];
    const auto& d = result.files[i].digests;
    if (c.image) {
      p::ReleaseImage img;
      img.name = c.name;
      img.sha256 = d.sha256;
      img.size = d.size;
      img.width = c.image_info.width;
      img.height = c.image_info.height;
      img.mime_type = c.image_info.mime_type;
      img.nsfw = draft.nsfw;
      img.nsfw_level = req.image_nsfw_level;
      img.generation = c.generation;
      // A local image without parameters takes the Civitai image's, by position.
      std::size_t k = draft.images.size();
      if (!img.generation && civitai && k < civitai->images.size() && civitai->images[k].meta)
        img.generation = civitai->images[k].meta;
      draft.images.push_back(std::move(img));
    } else {
      p::ReleaseFile f;
      f.name = c.name;
      f.role = c.role;
      f.format = c.format;
      f.precision = c.precision;
      f.primary = !primary_set && c.role == sc::FileRole::MODEL;
      primary_set = primary_set || f.primary;
      f.set_hashes(d);
      draft.files.push_back(std::move(f));
    }
  }
  if (!primary_set) draft.files.front().primary = true;
  draft.info_hash_v2 = torrent->info_hash_v2;
  draft.info_hash_v1 = torrent->info_hash_v1;
  draft.torrent_info = torrent->info;
  draft.torrent_piece_layers = torrent->piece_layers;

  auto bytes = p::sign_record(
      key, target.network, now_ms(), [&](sc::RecordBody::Builder body) { p::fill_release(draft, body); },
      p::kDefaultWorkBits);
  if (!bytes) {
    rollback();
    return bytes.error();
  }
  auto outcome = target.index.ingest(*bytes, indexer::Durability::local);
  if (outcome.status == indexer::IngestStatus::rejected) {
    // Roll back only if the record really is not there: the store files are
    // what it points to.
    if (!target.index.contains(p::record_id_of(*bytes))) rollback();
    return outcome.error;
  }
  auto rec = target.index.get(outcome.id);
  if (!rec) return rec.error();
  result.record = std::move(*rec);
  return result;
}

}  // namespace seedbank::node
