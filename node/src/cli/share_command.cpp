// seedbank share [DIR...] [--dry-run] [--yes] [--json]
// seedbank share --list | --stop PATH...
//
// A library the user already has, seeded from where it is: each model file
// the network knows (same SHA-256 as a release in the index) joins that
// release's swarm as a seed, read in place, never copied into the store.
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "../civitai.h"
#include "../client.h"
#include "../library.h"
#include "cli.h"
#include "seedbank/node/data_dir.h"
#include "seedbank/node/progress.h"
#include "seedbank/node/publish.h"
#include "seedbank/protocol/civitai_import.h"
#include "seedbank/protocol/release.h"
#include "seedbank/protocol/util.h"

namespace seedbank::node::cli {
namespace {

namespace p = seedbank::protocol;
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

struct ShareArgs {
  std::vector<std::string> folders, stop;
  std::string key;
  bool dry_run = false, yes = false, json = false, list = false, no_mirror = false, watch = false,
       publish_unknown = false;
};

// The Civitai sidecar a tool wrote beside a model file, if any.
std::optional<fs::path> sidecar_of(const fs::path& model) {
  auto stem = model.parent_path() / model.stem();
  for (const char* ext : {".civitai.info", ".metadata.json", ".json"}) {
    fs::path candidate = stem.string() + ext;
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) return candidate;
  }
  return std::nullopt;
}

// The preview a tool saved beside a model file, if any.
std::optional<fs::path> preview_of(const fs::path& model) {
  auto stem = model.parent_path() / model.stem();
  for (const char* ext : {".preview.png", ".preview.jpg", ".preview.jpeg", ".preview.webp", ".png", ".jpg", ".webp"}) {
    fs::path candidate = stem.string() + ext;
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) return candidate;
  }
  return std::nullopt;
}

// A file the network lacks, with a Civitai sidecar that vouches for it:
// what its mirror release would say. Error: the sidecar cannot be read, is
// not a Civitai model version, or records other bytes for the file.
struct MirrorPlan {
  fs::path sidecar;
  std::optional<fs::path> preview;
  p::CivitaiImport civitai;
  p::ReleaseOrigin origin;
};
p::Result<MirrorPlan> plan_mirror(const fs::path& model, const fs::path& sidecar, const p::Sha256Digest& sha) {
  std::error_code ec;
  auto size = fs::file_size(sidecar, ec);
  if (ec) return p::make_error(p::ErrorCode::io, sidecar.string() + ": cannot read: " + ec.message());
  if (size > 16 * 1024 * 1024)
    return p::make_error(p::ErrorCode::limit,
                         sidecar.string() + ": larger than a Civitai sidecar can be; not mirrored");
  std::ifstream in(sidecar, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = p::parse_civitai_version_json(text.str(), sidecar.string());
  if (!parsed) return p::make_error(parsed.error().code, parsed.error().message + "; not mirrored");
  MirrorPlan plan;
  plan.sidecar = sidecar;
  plan.civitai = std::move(parsed).value();
  // The file's entry: by name, else the primary one, else the only one.
  const p::CivitaiFile* entry = nullptr;
  for (const auto& f : plan.civitai.files)
    if (f.name == model.filename().string()) entry = &f;
  for (const auto& f : plan.civitai.files)
    if (!entry && f.primary) entry = &f;
  if (!entry && plan.civitai.files.size() == 1) entry = &plan.civitai.files[0];
  if (!entry || !entry->sha256)
    return p::make_error(p::ErrorCode::invalid_argument,
                         sidecar.string() + " records no SHA256 for " + model.filename().string() +
                             ", so nothing shows it is the file Civitai had; not mirrored (publish it yourself if "
                             "it is your work)");
  if (*entry->sha256 != sha)
    return p::make_error(p::ErrorCode::bad_signature, model.string() + ": its SHA256 is " + p::to_hex_upper(sha) +
                                                          " but " + sidecar.string() + " records " +
                                                          p::to_hex_upper(*entry->sha256) +
                                                          " (a different or damaged file); not mirrored");
  if (plan.civitai.model_id == 0 && plan.civitai.version_id == 0)
    return p::make_error(p::ErrorCode::invalid_argument,
                         sidecar.string() + " names no Civitai model or version id; not mirrored");
  plan.origin.site = "civitai";
  plan.origin.model_id = plan.civitai.model_id;
  plan.origin.version_id = plan.civitai.version_id;
  plan.origin.creator = plan.civitai.creator;
  plan.origin.url = "https://civitai.com/models/" + std::to_string(plan.civitai.model_id) +
                    (plan.civitai.version_id ? "?modelVersionId=" + std::to_string(plan.civitai.version_id) : "");
  plan.origin.sha256 = {sha};
  plan.preview = preview_of(model);
  return plan;
}

// What the index says about one file: the releases that name it as a
// model file and that this node keeps, or why it keeps none.
struct Known {
  std::vector<p::Record> releases;
  std::string refused;
};
Known known_as(NodeContext& node, const p::Sha256Digest& sha) {
  Known out;
  auto matches = node.index->find_by_hash("sha256:" + p::to_hex(sha), 64);
  if (!matches) return out;
  std::set<p::RecordId> seen;
  for (const auto& m : *matches) {
    if (m.file == indexer::kReleaseLevel || (m.file & indexer::kImageFlag) || !seen.insert(m.release).second) continue;
    auto rec = node.index->get(m.release);
    if (!rec || rec->kind() != p::RecordKind::release) continue;
    if (auto why = node.options.config.refuses(*rec, *node.index)) {
      if (out.refused.empty()) out.refused = *why;
      continue;
    }
    out.releases.push_back(std::move(rec).value());
  }
  return out;
}

// Asks on the terminal; false without one.
bool confirm(const std::string& question) {
  if (::isatty(STDIN_FILENO) != 1) return false;
  std::cerr << question << " [y/N] " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes";
}

int fail(const ShareArgs& a, const p::Error& error) {
  if (a.json) print_json({{"ok", false}, {"error", error.message}});
  return report(error);
}

int list_shared(const ShareArgs& a, NodeContext& node) {
  if (auto damaged = node.store->shared_error(); !damaged.empty())
    return fail(a, p::make_error(p::ErrorCode::malformed, damaged));
  json files = json::array();
  std::size_t serving = 0;
  for (const auto& f : node.store->shared_files()) {
    auto now = file_identity(f.path);
    std::string state = !now ? "missing" : (*now == f.identity ? "shared" : "changed");
    serving += state == "shared";
    files.push_back({{"path", f.path.string()},
                     {"SHA256", p::to_hex_upper(f.sha256)},
                     {"size", f.identity.size},
                     {"state", state}});
  }
  json folders = json::array(), watched = json::array();
  for (const auto& f : node.store->shared_folders()) folders.push_back(f.string());
  for (const auto& f : node.store->watched_folders()) watched.push_back(f.string());
  if (a.json) {
    print_json({{"ok", true}, {"folders", folders}, {"watched", watched}, {"files", files}, {"serving", serving}});
    return kOk;
  }
  for (const auto& f : folders)
    std::cout << "folder   " << f.get<std::string>()
              << (std::find(watched.begin(), watched.end(), f) != watched.end() ? "  (watched)" : "") << "\n";
  for (const auto& f : files)
    std::cout << (f["state"] == "shared"    ? "shared   "
                  : f["state"] == "changed" ? "changed  "
                                            : "missing  ")
              << f["path"].get<std::string>() << "\n";
  std::cout << serving << " of " << files.size()
            << " shared files are served; changed and missing ones are not (run `seedbank share` again to hash "
               "them anew)\n";
  return kOk;
}

int stop_sharing(const ShareArgs& a, NodeContext& node) {
  std::vector<fs::path> paths;
  for (const auto& s : a.stop) paths.push_back(fs::absolute(s).lexically_normal());
  auto removed = node.store->unshare(paths);
  if (!removed) return fail(a, removed.error());
  if (a.json) {
    json files = json::array();
    for (const auto& f : *removed) files.push_back(f.path.string());
    print_json({{"ok", true}, {"stopped", files}});
  } else {
    std::cerr << "stopped sharing " << removed->size() << (removed->size() == 1 ? " file" : " files")
              << "; a running node stops seeding them within seconds\n";
  }
  return kOk;
}

int share(const ShareArgs& a, NodeContext& node) {
  if (auto damaged = node.store->shared_error(); !damaged.empty())
    return fail(a, p::make_error(p::ErrorCode::malformed, damaged));
  std::vector<fs::path> roots;
  for (const auto& f : a.folders) roots.push_back(fs::absolute(f).lexically_normal());
  bool again = roots.empty();
  if (again) roots = node.store->shared_folders();  // the folders shared before
  if (roots.empty())
    return fail(a, p::make_error(p::ErrorCode::invalid_argument,
                                 "name the folders to share (e.g. stable-diffusion-webui/models or ComfyUI/models)"));
  json missing = json::array();
  for (auto it = roots.begin(); it != roots.end();) {
    std::error_code ec;
    if (fs::exists(*it, ec)) {
      ++it;
      continue;
    }
    // A folder named now must exist; one shared before may be unplugged.
    if (!again)
      return fail(a, p::make_error(p::ErrorCode::not_found, it->string() + ": no such folder; check the path"));
    missing.push_back({{"path", it->string()}, {"error", "shared before, but not there now (unplugged?); skipped"}});
    it = roots.erase(it);
  }
  // What `share --stop` left out stays out, unless a folder holding it is
  // named again.
  std::vector<fs::path> excluded;
  for (const auto& e : node.store->excluded_paths()) {
    bool named = false;
    for (const auto& f : a.folders) {
      auto root = fs::absolute(f).lexically_normal();
      auto rel = e.lexically_relative(root);
      named = named || e == root || (!rel.empty() && *rel.begin() != "..");
    }
    if (!named) excluded.push_back(e);
  }
  bool draw = !a.json && stderr_is_terminal();
  auto walk = walk_library(roots, excluded);
  std::uint64_t total_bytes = 0;
  for (const auto& f : walk.files) total_bytes += f.identity.size;
  if (!a.json)
    std::cerr << "found " << walk.files.size() << " model files (" << p::util::human_bytes(total_bytes) << ") in "
              << walk.folders << " folders\n";

  HashCache cache(node.options.data_dir / "hash-cache.json");
  std::string warning;
  cache.load(&warning);
  if (!warning.empty()) std::cerr << "seedbank: " << warning << "\n";

  std::size_t hashed = 0, cached = 0;
  std::uint64_t hashed_bytes = 0;
  json seed = json::array(), unknown = json::array(), refused = json::array(), problems = json::array();
  for (const auto& m : missing) problems.push_back(m);
  for (const auto& pr : walk.problems) problems.push_back({{"path", pr.path.string()}, {"error", pr.what}});
  std::vector<SharedFile> to_share;
  struct Mirror {
    LibraryFile file;
    p::Sha256Digest sha256;
    MirrorPlan plan;
  };
  std::vector<Mirror> mirrors;
  std::vector<SharedFile> copies;  // more copies of files mirrored or published in this run
  json copy_items = json::array();
  // --publish-unknown: files without a sidecar, published as the sharer's own.
  std::vector<std::pair<LibraryFile, p::Sha256Digest>> own;
  json own_items = json::array();
  auto add_unknown = [&](json item, const LibraryFile& f, const p::Sha256Digest& sha) {
    if (!a.publish_unknown || item.contains("sidecar")) {
      unknown.push_back(std::move(item));
      return;
    }
    if (std::any_of(own.begin(), own.end(), [&](const auto& o) { return o.second == sha; })) {
      copies.push_back(SharedFile{f.path, sha, f.identity});  // one release, every copy shared
      copy_items.push_back(std::move(item));
      return;
    }
    own.emplace_back(f, sha);
    own_items.push_back(std::move(item));
  };
  json mirror = json::array();
  std::uint64_t share_bytes = 0;
  std::size_t nsfw = 0, already = 0;
  auto shared_before = node.store->shared_files();
  for (const auto& f : walk.files) {
    std::optional<p::Sha256Digest> sha = cache.find(f.identity);
    if (sha) {
      ++cached;
    } else {
      std::optional<ProgressBar> bar;
      if (draw) bar.emplace(f.path.filename().string(), f.identity.size, true);
      auto d = hash_library_file(f, [&](std::uint64_t done, std::uint64_t) {
        if (bar) bar->update(done);
      });
      if (bar) bar->finish();
      if (!d) {
        problems.push_back({{"path", f.path.string()}, {"error", d.error().message}});
        continue;
      }
      sha = d->sha256;
      cache.put(f.identity, *sha);
      ++hashed;
      hashed_bytes += f.identity.size;
    }
    json item = {{"path", f.path.string()},
                 {"SHA256", p::to_hex_upper(*sha)},
                 {"AutoV2", p::to_hex_upper(*sha).substr(0, 10)},
                 {"size", f.identity.size},
                 {"format", f.format}};
    auto known = known_as(node, *sha);
    if (known.releases.empty()) {
      if (!known.refused.empty()) {
        item["refused"] = known.refused;
        refused.push_back(item);
        continue;
      }
      // A second copy of a file this run mirrors (the same model in an
      // A1111 and a ComfyUI folder): one mirror, both copies shared.
      if (std::any_of(mirrors.begin(), mirrors.end(), [&](const auto& m) { return m.sha256 == *sha; })) {
        copies.push_back(SharedFile{f.path, *sha, f.identity});
        copy_items.push_back(item);
        continue;
      }
      if (auto side = sidecar_of(f.path)) {
        item["sidecar"] = side->string();
        if (!a.no_mirror) {
          auto plan = plan_mirror(f.path, *side, *sha);
          // A plain <name>.json is often a UI's own notes, not Civitai's:
          // only a named Civitai sidecar that fails is a problem.
          bool civitai_named = side->string().ends_with(".civitai.info") || side->string().ends_with(".metadata.json");
          if (!plan && !civitai_named && plan.error().code != p::ErrorCode::bad_signature) {
            item.erase("sidecar");  // not Civitai's: as if there were none
            add_unknown(item, f, *sha);
            continue;
          }
          if (!plan) {
            problems.push_back({{"path", f.path.string()}, {"error", plan.error().message}});
            continue;
          }
          const auto& c = plan->civitai;
          item["model"] = c.model_name;
          item["version"] = c.version_name;
          item["type"] = c.type;
          item["nsfw"] = c.nsfw;
          item["origin"] = {{"site", plan->origin.site},
                            {"modelId", plan->origin.model_id},
                            {"versionId", plan->origin.version_id},
                            {"creator", plan->origin.creator},
                            {"url", plan->origin.url}};
          if (plan->preview) item["preview"] = plan->preview->string();
          nsfw += c.nsfw;
          mirror.push_back(item);
          mirrors.push_back({f, *sha, std::move(plan).value()});
          continue;
        }
      }
      add_unknown(item, f, *sha);
      continue;
    }
    json releases = json::array();
    bool is_nsfw = false;
    for (const auto& rec : known.releases) {
      auto r = rec.body().getPayload().getRelease();
      is_nsfw = is_nsfw || r.getNsfw();
      releases.push_back({{"releaseId", p::to_hex(rec.id())},
                          {"model", r.getModelName().cStr()},
                          {"version", r.getVersionName().cStr()},
                          {"type", std::string(p::model_type_name(r.getType()))},
                          {"creator", rec.author().to_text()}});
    }
    item["releases"] = releases;
    item["nsfw"] = is_nsfw;
    nsfw += is_nsfw;
    bool was = std::any_of(shared_before.begin(), shared_before.end(), [&](const SharedFile& s) {
      return s.path == f.path && s.sha256 == *sha && s.identity == f.identity;
    });
    item["alreadyShared"] = was;
    already += was;
    seed.push_back(item);
    to_share.push_back(SharedFile{f.path, *sha, f.identity});
    share_bytes += f.identity.size;
  }
  if (auto st = cache.save(); !st) std::cerr << "seedbank: " << st.error().message << "\n";

  if (!a.json) {
    for (const auto& item : seed) {
      const auto& first = item["releases"][0];
      std::cout << "seed     " << item["path"].get<std::string>() << "  ->  " << first["model"].get<std::string>()
                << " " << first["version"].get<std::string>() << " (" << first["type"].get<std::string>() << ")"
                << (item["nsfw"].get<bool>() ? "  [NSFW]" : "")
                << (item["releases"].size() > 1 ? "  (+" + std::to_string(item["releases"].size() - 1) + " releases)"
                                                : "")
                << "\n";
    }
    for (const auto& item : mirror)
      std::cout << "mirror   " << item["path"].get<std::string>() << "  ->  " << item["model"].get<std::string>() << " "
                << item["version"].get<std::string>() << " (" << item["type"].get<std::string>() << ") from Civitai"
                << (item["origin"]["creator"].get<std::string>().empty()
                        ? std::string()
                        : ", creator " + item["origin"]["creator"].get<std::string>())
                << (item["nsfw"].get<bool>() ? "  [NSFW]" : "") << "\n";
    for (const auto& item : own_items)
      std::cout << "publish  " << item["path"].get<std::string>() << "  (as your own release: --publish-unknown)\n";
    for (const auto& item : copy_items)
      std::cout << "copy     " << item["path"].get<std::string>() << "  (the same bytes as a file published above)\n";
    for (const auto& item : unknown)
      std::cout << "unknown  " << item["path"].get<std::string>()
                << (item.contains("sidecar") ? "  (has a Civitai sidecar; not on the network yet)" : "") << "\n";
    for (const auto& item : refused)
      std::cout << "refused  " << item["path"].get<std::string>() << "  (" << item["refused"].get<std::string>()
                << ")\n";
    for (const auto& item : problems)
      std::cout << "problem  " << item["path"].get<std::string>() << ": " << item["error"].get<std::string>() << "\n";
  }

  // Mirrors are signed by the user's key: it must exist before asking.
  std::optional<p::SecretKey> key;
  if ((!mirrors.empty() || !own.empty()) && !a.dry_run) {
    auto k = p::load_secret_key(a.key.empty() ? default_key_path(node.options.data_dir) : fs::path(a.key));
    if (!k)
      return fail(a, p::make_error(k.error().code, k.error().message +
                                                       " (mirrors and --publish-unknown releases are signed by "
                                                       "your key: make one with `seedbank keygen`, or share with "
                                                       "--no-mirror and without --publish-unknown)"));
    key = std::move(k).value();
  }
  bool accepted = false, node_running = false;
  std::size_t fresh = to_share.size() - already + mirrors.size() + own.size();
  if (!a.dry_run && (!to_share.empty() || !mirrors.empty() || !own.empty())) {
    accepted = a.yes || fresh == 0;
    if (!accepted) {
      std::string question =
          (to_share.empty() ? std::string()
                            : "Seed " + std::to_string(to_share.size()) + " files (" +
                                  p::util::human_bytes(share_bytes) + ") to anyone, read from where they are. ") +
          (mirrors.empty() ? std::string()
                           : "Publish " + std::to_string(mirrors.size()) +
                                 " mirror releases of Civitai files, signed by your key " +
                                 key->public_key().to_text() + " and labelled as mirrors. ") +
          (own.empty() ? std::string()
                       : "Publish " + std::to_string(own.size()) +
                             " files the network lacks as YOUR OWN releases (their names and types from their "
                             "headers), signed by your key " +
                             key->public_key().to_text() + ". ") +
          (nsfw ? std::to_string(nsfw) + " of them are NSFW. " : "") + "Go ahead?";
      if (::isatty(STDIN_FILENO) != 1)
        return fail(a, p::make_error(p::ErrorCode::invalid_argument,
                                     "sharing makes these files downloadable by anyone; add --yes to confirm "
                                     "without a terminal (or --dry-run to see what would be shared)"));
      accepted = confirm(question);
      if (!accepted) return fail(a, p::make_error(p::ErrorCode::invalid_argument, "not confirmed; nothing shared"));
    }
  }
  std::vector<p::RecordId> published;
  std::size_t failed = 0;  // mirrors that could not be published
  // The folders are remembered (and watched, with --watch) even when
  // nothing in them is shared yet: a watched folder waits for files.
  if (!a.dry_run && (accepted || a.watch)) {
    std::vector<fs::path> named;
    for (const auto& f : a.folders) named.push_back(fs::absolute(f).lexically_normal());
    if (!named.empty() || a.watch)
      if (auto st = node.store->set_shared_folders(named.empty() ? roots : named, a.watch, !named.empty()); !st)
        return fail(a, st.error());
  }
  if (accepted) {
    if (auto st = node.store->share(to_share); !st) return fail(a, st.error());
    // Each mirror is a release: the file shared in place, its preview (and
    // the sidecar's metadata) published with it, and its origin recorded.
    PublishTarget target{*node.index, *node.store, node.options.network};
    for (std::size_t i = 0; i < mirrors.size(); ++i) {
      auto& m = mirrors[i];
      PublishRequest req;
      req.files = {m.file.path};
      if (m.plan.preview) req.images = {*m.plan.preview};
      req.civitai_json = m.plan.sidecar;
      req.in_place = true;
      req.origin = m.plan.origin;
      auto done = publish(target, *key, req);
      // A preview that is no image (or not one publish takes): the mirror
      // goes without it.
      if (!done && m.plan.preview && done.error().message.find(m.plan.preview->string()) != std::string::npos) {
        req.images.clear();
        done = publish(target, *key, req);
      }
      if (!done) {
        problems.push_back({{"path", m.file.path.string()}, {"error", done.error().message + "; not mirrored"}});
        mirror[i]["error"] = done.error().message;
        if (!a.json) std::cout << "problem  " << m.file.path.string() << ": " << done.error().message << "\n";
        ++failed;
        continue;
      }
      mirror[i]["releaseId"] = p::to_hex(done->record->id());
      published.push_back(done->record->id());
    }
    // --publish-unknown: the sharer's own releases, read in place.
    for (std::size_t i = 0; i < own.size(); ++i) {
      PublishRequest req;
      req.files = {own[i].first.path};
      if (auto preview = preview_of(own[i].first.path)) req.images = {*preview};
      req.in_place = true;
      req.supersede_by_name = false;  // a local file named like another release replaces nothing
      auto done = publish(target, *key, req);
      if (!done && !req.images.empty() && done.error().message.find(req.images[0].string()) != std::string::npos) {
        req.images.clear();
        done = publish(target, *key, req);
      }
      if (!done) {
        problems.push_back({{"path", own[i].first.path.string()}, {"error", done.error().message + "; not published"}});
        own_items[i]["error"] = done.error().message;
        if (!a.json) std::cout << "problem  " << own[i].first.path.string() << ": " << done.error().message << "\n";
        ++failed;
        continue;
      }
      own_items[i]["releaseId"] = p::to_hex(done->record->id());
      published.push_back(done->record->id());
    }
    // Other copies of what was mirrored: now files of a release, shared too.
    std::vector<SharedFile> known_copies;
    for (const auto& c : copies)
      if (node.store->locate(c.sha256)) known_copies.push_back(c);
    if (!known_copies.empty())
      if (auto st = node.store->share(known_copies); !st) return fail(a, st.error());
    node_running = static_cast<bool>(connect_to_node(node.options.data_dir));
    if (node_running && !published.empty()) announce_to_node(node.options.data_dir, published);
  }
  if (a.json) {
    json folders = json::array();
    for (const auto& r : roots) folders.push_back(r.string());
    print_json({{"ok", true},
                {"folders", folders},
                {"files", walk.files.size()},
                {"bytes", total_bytes},
                {"hashed", hashed},
                {"hashedBytes", hashed_bytes},
                {"cached", cached},
                {"dryRun", a.dry_run},
                {"shared", accepted ? to_share.size() : 0},
                {"nodeRunning", node_running},
                {"mirrored",
                 std::count_if(mirror.begin(), mirror.end(), [](const json& m) { return m.contains("releaseId"); })},
                {"published", published.size()},
                {"seed", seed},
                {"mirror", mirror},
                {"copies", copy_items},
                {"own", own_items},
                {"unknown", unknown},
                {"refused", refused},
                {"problems", problems}});
    return failed ? kError : kOk;
  }
  std::cerr << "hashed " << hashed << " files (" << p::util::human_bytes(hashed_bytes) << "), " << cached
            << " unchanged since the last run\n";
  if (a.dry_run)
    std::cerr << "dry run: " << to_share.size() << " files would be seeded in place; nothing was changed\n";
  else if (accepted)
    std::cerr << "sharing " << to_share.size() << " files in place (" << p::util::human_bytes(share_bytes) << ")"
              << (node_running ? "; the running node seeds them now (seedbank status)"
                               : "; no node runs on this data dir: `seedbank node` seeds them when it starts")
              << "\n";
  if (accepted && a.watch)
    std::cerr << "watching: a running node shares new model files there that the network knows, and stops serving "
                 "removed ones\n";
  if (accepted && !published.empty())
    std::cerr << "published " << published.size() << " releases, signed by your key\n";
  if (!unknown.empty())
    std::cerr << unknown.size() << " files are not on the network; `seedbank publish` publishes your own work\n";
  if (failed) std::cerr << "seedbank: " << failed << " releases could not be published (see the problems listed)\n";
  return failed ? kError : kOk;
}

}  // namespace

void add_share_command(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<ShareArgs>();
  auto* cmd = app.add_subcommand("share", "Seed the model files you already have, from where they are");
  cmd->footer(
      "Walks the folders (an AUTOMATIC1111/Forge or ComfyUI models folder, or any other), hashes\n"
      "each model file once (a second run over an unchanged library reads nothing: hashes are\n"
      "kept by device, inode, size and mtime in <data dir>/hash-cache.json) and seeds every file\n"
      "the network already knows as a seed of its release, read where it is: nothing is copied\n"
      "into the store and nothing is signed. A shared file that is edited, moved or deleted is\n"
      "no longer served; share again to hash it anew. Without DIR: the folders shared before.\n"
      "A file the network lacks, with a Civitai sidecar beside it (<name>.civitai.info,\n"
      "<name>.metadata.json or <name>.json) whose SHA256 is the file's, becomes a mirror release:\n"
      "signed by your key, labelled as a mirror, carrying the Civitai model and version ids, the\n"
      "creator's name and the sidecar's metadata, with the preview found beside it.\n"
      "--publish-unknown publishes files without a sidecar as your own releases. --watch: a running\n"
      "node shares known model files that appear in the folders later (nothing is published).\n"
      "Exit codes: 0 done, 2 bad arguments or not confirmed, 3 no such folder, 1 other.");
  cmd->add_option("folders", a->folders, "Folders (or single files) to share");
  cmd->add_flag("--dry-run", a->dry_run, "Show what would be shared; change nothing");
  cmd->add_flag("--yes,-y", a->yes, "Do not ask before sharing (for scripts)");
  cmd->add_flag("--list", a->list, "List the shared files and whether each is still served");
  cmd->add_option("--stop", a->stop, "Stop sharing these files or folders (repeatable)");
  cmd->add_flag("--no-mirror", a->no_mirror, "Do not publish mirrors of files with a Civitai sidecar");
  cmd->add_flag("--publish-unknown", a->publish_unknown,
                "Publish files the network lacks and that have no sidecar as your own releases (name and type from "
                "their headers)");
  cmd->add_flag("--watch", a->watch,
                "A running node also shares new model files that appear in these folders (those the network "
                "knows; nothing is published)");
  cmd->add_option("--key", a->key, "Key file that signs mirrors (default: <data dir>/key)");
  cmd->add_flag("--json", a->json, "Print the result as JSON (errors too)");
  cmd->callback([a, &ctx] {
    with_node(ctx, [&](NodeContext& node) {
      if (a->list) return list_shared(*a, node);
      if (!a->stop.empty()) return stop_sharing(*a, node);
      return share(*a, node);
    });
  });
}

}  // namespace seedbank::node::cli
