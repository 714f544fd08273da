// seedbank publish FILE... --key K --name N ... [--json]
// seedbank releases [--mine] [--key K] [--json]
#include <fstream>
#include <iostream>
#include <sstream>

#include "../client.h"
#include "../files.h"
#include "cli.h"
#include "seedbank/node/context.h"
#include "seedbank/node/data_dir.h"
#include "seedbank/node/progress.h"
#include "seedbank/node/publish.h"
#include "seedbank/protocol/release.h"

namespace seedbank::node::cli {
namespace {

namespace p = seedbank::protocol;

struct PublishArgs {
  std::vector<std::string> files, images, tags, triggers, trackers, commercial;
  std::string key, name, version, type, base_model, description, description_file, license, civitai, supersedes;
  std::string model_description, model_description_file;
  bool no_derivatives = false, require_credit = false, same_license = false;
  bool nsfw = false, v2_only = false, link = false, allow_unsafe = false, json = false;
  std::string nsfw_level;
};

std::string join(const std::vector<std::string_view>& v) {
  std::string out;
  for (auto s : v) out += (out.empty() ? "" : ", ") + std::string(s);
  return out;
}

int run_publish(const PublishArgs& a, const Context& ctx) {
  auto data_dir = ctx.global.resolved_data_dir();
  auto key = p::load_secret_key(a.key.empty() ? default_key_path(data_dir) : std::filesystem::path(a.key));
  if (!key) return report(key.error());

  PublishRequest req;
  for (const auto& f : a.files) req.files.emplace_back(f);
  for (const auto& f : a.images) req.images.emplace_back(f);
  req.name = a.name;
  req.version = a.version;
  req.type = a.type;
  req.base_model = a.base_model;
  if (auto text = text_or_file(a.description, a.description_file)) {
    req.description = std::move(*text);
  } else {
    return report(text.error());
  }
  if (auto text = text_or_file(a.model_description, a.model_description_file)) {
    req.model_description = std::move(*text);
  } else {
    return report(text.error());
  }
  req.license = a.license;
  req.tags = a.tags;
  req.trigger_words = a.triggers;
  req.trackers = a.trackers;
  req.commercial_use = a.commercial;
  if (a.no_derivatives) req.allow_derivatives = false;
  if (a.require_credit) req.allow_no_credit = false;
  if (a.same_license) req.allow_different_license = false;
  if (!a.civitai.empty()) req.civitai_json = a.civitai;
  req.supersedes = a.supersedes;
  req.nsfw = a.nsfw;
  if (!a.nsfw_level.empty()) {
    auto level = p::parse_nsfw_level(a.nsfw_level);
    if (!level)
      return report(
          p::make_error(p::ErrorCode::invalid_argument,
                        "--nsfw-level: '" + a.nsfw_level + "' is not PG, PG-13, R, X or XXX (or 1, 2, 4, 8, 16)"));
    if (a.nsfw && *level < p::kR)
      return report(p::make_error(p::ErrorCode::invalid_argument,
                                  "--nsfw marks the images R at least; give --nsfw-level R, X or XXX, or leave out "
                                  "--nsfw"));
    req.image_nsfw_level = *level;
  }
  req.v2_only = a.v2_only;
  req.link = a.link;
  req.allow_unsafe = a.allow_unsafe;

  auto node = open_node(ctx);
  if (!node) return report(node.error());
  PublishTarget target{*(*node)->index, *(*node)->store, ctx.global.network};

  // Regular files only, checked before anything is opened (a FIFO would
  // block, a device never end).
  std::uint64_t total = 0;
  for (const auto& f : a.files) {
    if (auto st = check_regular_file(f); !st) return report(st.error());
    std::error_code ec;
    total += std::filesystem::file_size(f, ec);
  }
  ProgressBar bar("hashing", total, !a.json && total > (64ull << 20));
  auto result = publish(target, *key, req, [&](std::uint64_t done, std::uint64_t) { bar.update(done); });
  bar.finish();
  if (!result) return report(result.error());
  for (const auto& w : result->warnings) std::cerr << "seedbank: warning: " << w << "\n";
  // A node running on this data dir starts seeding now rather than at its
  // next scan.
  announce_to_node((*node)->options.data_dir, {result->record->id()});

  auto release = result->record->body().getPayload().getRelease();
  // The plain v1 form for clients that cannot load BEP 52 torrents.
  auto compat = v1_compat_info(release);
  auto compat_magnet = magnet_of(release, true);
  if (a.json) {
    nlohmann::ordered_json files = nlohmann::ordered_json::array();
    for (const auto& f : result->files) files.push_back(published_file_json(f, true));
    auto t = release.getTorrent();
    print_json({{"releaseId", p::to_hex(result->record->id())},
                {"alreadyPublished", result->already_published},
                {"creator", result->record->author().to_text()},
                {"model", release.getModelName().cStr()},
                {"version", release.getVersionName().cStr()},
                {"type", std::string(p::model_type_name(release.getType()))},
                {"baseModel", release.getBaseModel().cStr()},
                {"supersedes", release.getSupersedes().size()
                                   ? nlohmann::ordered_json(p::to_hex(p::ByteView(release.getSupersedes().begin(), 32)))
                                   : nullptr},
                {"infoHashV2", p::to_hex(p::ByteView(t.getInfoHashV2().begin(), 32))},
                {"infoHashV1", t.getInfoHashV1().size()
                                   ? nlohmann::ordered_json(p::to_hex(p::ByteView(t.getInfoHashV1().begin(), 20)))
                                   : nullptr},
                {"torrentName", result->torrent_name},
                {"pieceSize", result->piece_size},
                {"magnet", result->magnet},
                {"infoHashV1Compat", compat ? nlohmann::ordered_json(p::to_hex(compat->info_hash)) : nullptr},
                {"magnetV1Compat", compat_magnet ? nlohmann::ordered_json(*compat_magnet) : nullptr},
                {"files", files},
                {"warnings", result->warnings}});
    return kOk;
  }
  std::cout << (result->already_published ? "already published: " : "published: ") << release.getModelName().cStr()
            << " " << release.getVersionName().cStr() << " (" << p::model_type_name(release.getType())
            << (release.getBaseModel().size() ? ", " + std::string(release.getBaseModel().cStr()) : "") << ")\n"
            << "  release  " << p::to_hex(result->record->id()) << "\n"
            << "  creator  " << result->record->author().to_text() << "\n";
  if (release.getSupersedes().size())
    std::cout << "  replaces " << p::to_hex(p::ByteView(release.getSupersedes().begin(), 32)) << "\n";
  for (const auto& f : result->files) {
    const auto& d = f.digests;
    std::cout << "  " << (f.image ? "image " : "file  ") << f.name << "  " << human_bytes(d.size) << "\n"
              << "        SHA256 " << d.sha256_hex() << "  AutoV2 " << d.autov2_hex() << "  AutoV1 " << d.autov1_hex()
              << (d.autov3 ? "  AutoV3 " + d.autov3_hex() : "") << "  CRC32 " << d.crc32_hex() << "\n";
  }
  std::cout << "  magnet   " << result->magnet << "\n";
  if (compat_magnet) std::cout << "  v1 only  " << *compat_magnet << "\n";
  return kOk;
}

struct ReleasesArgs {
  bool mine = false, json = false, all = false;
  std::string key, type, base_model, tag, query;
  std::size_t limit = 50;
};

int run_releases(const ReleasesArgs& a, const Context& ctx) {
  auto node = open_node(ctx);
  if (!node) return report(node.error());
  indexer::ReleaseQuery q;
  q.limit = std::min<std::size_t>(a.limit, 100);
  q.base_model = a.base_model;
  q.tag = a.tag;
  q.text = a.query;
  if (!q.text.empty()) q.sort = indexer::SortOrder::relevance;
  q.include_retracted = a.all;
  // What the node leaves out, the list leaves out, unless --all.
  if (!a.all) q.deny_curators = (*node)->options.config.deny_curators;
  if (!a.type.empty()) {
    auto t = p::parse_model_type(a.type);
    if (!t) return report(p::make_error(p::ErrorCode::invalid_argument, "'" + a.type + "' is not a model type"));
    q.type = static_cast<std::uint16_t>(*t);
  }
  if (a.mine) {
    auto key =
        p::load_secret_key(a.key.empty() ? default_key_path((*node)->options.data_dir) : std::filesystem::path(a.key));
    if (!key) return report(key.error());
    q.creator = key->public_key();
  }
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  std::size_t listed = 0;
  while (listed < a.limit) {
    auto page = (*node)->index->query_releases(q);
    if (!page) return report(page.error());
    for (const auto& signed_release : page->items) {
      auto rec = (*node)->index->shown(signed_release);  // as its author's update shows it
      auto r = rec.body().getPayload().getRelease();
      std::uint64_t size = 0;
      for (auto f : r.getFiles()) size += f.getSize();
      auto agg = (*node)->index->rating(rec.id());
      if (a.json) {
        out.push_back({{"releaseId", p::to_hex(rec.id())},
                       {"model", r.getModelName().cStr()},
                       {"version", r.getVersionName().cStr()},
                       {"type", std::string(p::model_type_name(r.getType()))},
                       {"baseModel", r.getBaseModel().cStr()},
                       {"creator", rec.author().to_text()},
                       {"createdAt", rec.created_at()},
                       {"files", r.getFiles().size()},
                       {"images", r.getImages().size()},
                       {"tags",
                        [&] {
                          auto tags = nlohmann::ordered_json::array();
                          for (auto t : r.getTags()) tags.push_back(t.cStr());
                          return tags;
                        }()},
                       {"size", size},
                       {"ratingCount", agg.count},
                       {"rating", agg.mean()}});
      } else {
        std::cout << p::to_hex(rec.id()).substr(0, 12) << "  " << r.getModelName().cStr() << " "
                  << r.getVersionName().cStr() << "  [" << p::model_type_name(r.getType())
                  << (r.getBaseModel().size() ? ", " + std::string(r.getBaseModel().cStr()) : "") << "]  "
                  << human_bytes(size) << "\n";
      }
      if (++listed >= a.limit) break;
    }
    if (page->next_cursor.empty()) break;
    q.cursor = page->next_cursor;
  }
  if (a.json)
    print_json(out);
  else if (listed == 0)
    std::cerr << "no releases in the local index\n";
  return kOk;
}

}  // namespace

void add_publish_commands(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<PublishArgs>();
  auto* cmd = app.add_subcommand("publish", "Publish model files and sample images as a signed, seedable release");
  cmd->footer("Types: " + join(p::model_type_names()) +
              "\nBase models (Civitai's names): " + join(p::known_base_models()) +
              "\n  (others are accepted with a warning)\n"
              "Fields you leave out are taken from --from-civitai, then from the safetensors\n"
              "metadata (type, base model, trigger words). Every file is hashed in one read; the\n"
              "torrent is hybrid (v1 + v2) unless --v2-only, and the same files and options\n"
              "always give the same info-hash. Publishing the same files again changes nothing.");
  cmd->add_option("files", a->files, "Model files (the first is the primary file)")->required();
  cmd->add_option("--key", a->key, "Signing key (default <data dir>/identity.key)");
  cmd->add_option("--name", a->name, "Model name");
  cmd->add_option("--version", a->version, "Version name (default v1.0)");
  cmd->add_option("--type", a->type, "Model type (see below)");
  cmd->add_option("--base-model", a->base_model, "Base model, e.g. \"SDXL 1.0\"");
  cmd->add_option("--tag", a->tags, "A tag (repeatable)");
  cmd->add_option("--trigger", a->triggers, "A trigger word (repeatable)");
  cmd->add_option("--description", a->description, "Description (Markdown)");
  cmd->add_option("--description-file", a->description_file, "Read the description from a file");
  cmd->add_option("--model-description", a->model_description,
                  "The model's own description (Markdown), apart from this version's notes; later versions "
                  "keep it unless they give one");
  cmd->add_option("--model-description-file", a->model_description_file, "Read the model's description from a file");
  cmd->add_option("--license", a->license, "License name, e.g. \"CreativeML OpenRAIL-M\"");
  cmd->add_option("--allow-commercial-use", a->commercial,
                  "Comma-separated: None, Image, RentCivit, Rent, Sell (Civitai's values)");
  cmd->add_flag("--no-derivatives", a->no_derivatives, "Do not allow sharing merges (allowDerivatives false)");
  cmd->add_flag("--require-credit", a->require_credit, "Derivatives must credit you (allowNoCredit false)");
  cmd->add_flag("--same-license", a->same_license, "Derivatives keep these permissions (allowDifferentLicense false)");
  cmd->add_option("--image", a->images, "A sample image, PNG/JPEG/WebP, or a short MP4/WebM video (repeatable)");
  cmd->add_option("--from-civitai", a->civitai, "Import fields from a .civitai.info or Civitai model-version JSON");
  cmd->add_option("--supersedes", a->supersedes,
                  "Release id this version replaces (default: your latest release "
                  "of the same model)");
  cmd->add_option("--tracker", a->trackers, "Announce URL to record in the release (repeatable)");
  cmd->add_flag("--nsfw", a->nsfw, "Mark the release NSFW");
  cmd->add_option("--nsfw-level", a->nsfw_level,
                  "Browsing level of the sample images, as Civitai rates them: PG, PG-13, R, X or XXX (R and above "
                  "also mark the release NSFW; default PG, or R with --nsfw)");
  cmd->add_flag("--v2-only", a->v2_only, "BitTorrent v2 only (smaller; v1-only clients cannot fetch it)");
  cmd->add_flag("--link", a->link, "Hard-link files into the store instead of copying (never edit them after)");
  cmd->add_flag("--allow-unsafe", a->allow_unsafe, "Accept pickle-based files (.ckpt, .pt, .bin)");
  cmd->add_flag("--json", a->json, "Print the result as JSON");
  cmd->callback([a, &ctx] { ctx.exit_code = run_publish(*a, ctx); });

  auto r = std::make_shared<ReleasesArgs>();
  auto* list = app.add_subcommand("releases", "List releases in the local index, newest first");
  list->add_flag("--mine", r->mine, "Only releases signed by your key");
  list->add_option("--key", r->key, "Your key for --mine (default <data dir>/identity.key)");
  list->add_option("--type", r->type, "Only this model type");
  list->add_option("--base-model", r->base_model, "Only this base model");
  list->add_option("--tag", r->tag, "Only releases with this tag");
  list->add_option("--query", r->query,
                   "Search: words that start words of the name, tags, trigger words, version, description or "
                   "creator (or a creator key); best matches first");
  list->add_option("--limit", r->limit, "At most this many (default 50)");
  list->add_flag("--all", r->all, "Include retracted releases and those a followed deny-list names");
  list->add_flag("--json", r->json, "Print JSON");
  list->callback([r, &ctx] { ctx.exit_code = run_releases(*r, ctx); });
}

}  // namespace seedbank::node::cli
