// The social acts, each a signed record: seedbank rate, retract, profile,
// post-image, rotate-key and deny-list. Each is stored in the local index
// at once (fully synced: no peer has it yet) and a running node on the same
// data dir announces it to its peers within moments.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <set>

#include "../client.h"
#include "../community.h"
#include "cli.h"
#include "seedbank/node/data_dir.h"
#include "seedbank/protocol/release.h"

namespace seedbank::node::cli {

namespace {

namespace p = seedbank::protocol;
namespace sc = seedbank::schema;

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

p::Result<p::SecretKey> key_of(const Context& ctx, const std::string& key) {
  return p::load_secret_key(key.empty() ? default_key_path(ctx.global.resolved_data_dir())
                                        : std::filesystem::path(key));
}

// Signs, stores and announces one record; prints its id (or JSON).
int sign_and_store(NodeContext& node, const p::SecretKey& key, const char* what, bool json,
                   const std::function<void(sc::RecordBody::Builder)>& fill, nlohmann::ordered_json extra = {}) {
  auto out = sign_and_ingest(*node.index, key, fill);
  if (!out) return report(out.error());
  // A running node announces it now rather than at its next scan.
  announce_to_node(node.options.data_dir, {out->id});
  if (json) {
    nlohmann::ordered_json j = {
        {"recordId", p::to_hex(out->id)}, {"kind", what}, {"author", key.public_key().to_text()}};
    if (out->status == indexer::IngestStatus::superseded) j["superseded"] = true;
    for (auto& [k, v] : extra.items()) j[k] = v;
    print_json(j);
  } else {
    std::cout << what << " " << p::to_hex(out->id) << " signed by " << key.public_key().to_text()
              << (out->status == indexer::IngestStatus::superseded ? " (a newer one of yours already wins)" : "")
              << "\n";
  }
  return kOk;
}

capnp::Data::Reader as_data(p::ByteView b) { return capnp::Data::Reader(b.data(), b.size()); }

void add_rate(CLI::App& app, Context& ctx) {
  struct Args {
    std::string release, review, key;
    int stars = 0;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "rate", "Rate a release 1-5 stars, with an optional review (one per key; a new one replaces yours)");
  cmd->add_option("release", a->release, "Release id or any hash of its files")->required();
  cmd->add_option("--stars", a->stars, "1 to 5")->required()->check(CLI::Range(1, 5));
  cmd->add_option("--review", a->review, "Review text (Markdown)");
  cmd->add_option("--key", a->key, "Signing key (default <data dir>/identity.key)");
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->callback([&ctx, a] {
    auto key = key_of(ctx, a->key);
    if (!key) return void(ctx.exit_code = report(key.error()));
    auto node = open_node(ctx);
    if (!node) return void(ctx.exit_code = report(node.error()));
    auto rec = find_release(*(*node)->index, a->release);
    if (!rec) return void(ctx.exit_code = report(rec.error()));
    auto id = rec->id();
    ctx.exit_code = sign_and_store(**node, *key, "rating", a->json,
                                   [&](sc::RecordBody::Builder b) {
                                     auto r = b.initPayload().initRating();
                                     r.setRelease(as_data(id));
                                     r.setStars(static_cast<std::uint8_t>(a->stars));
                                     r.setReview(a->review);
                                   },
                                   {{"release", p::to_hex(id)}, {"stars", a->stars}});
  });
}

void add_retract(CLI::App& app, Context& ctx) {
  struct Args {
    std::string release, reason, key;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("retract", "Withdraw a release you published: nodes stop listing and seeding it");
  cmd->add_option("release", a->release, "Release id or any hash of its files")->required();
  cmd->add_option("--reason", a->reason, "Why (shown to users)");
  cmd->add_option("--key", a->key, "The release's signing key (default <data dir>/identity.key)");
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->callback([&ctx, a] {
    auto key = key_of(ctx, a->key);
    if (!key) return void(ctx.exit_code = report(key.error()));
    auto node = open_node(ctx);
    if (!node) return void(ctx.exit_code = report(node.error()));
    auto rec = find_release(*(*node)->index, a->release);
    if (!rec) return void(ctx.exit_code = report(rec.error()));
    if (rec->author() != key->public_key())
      return void(ctx.exit_code = report(p::make_error(
                      p::ErrorCode::invalid_argument,
                      "release " + p::to_hex(rec->id()) + " was signed by " + rec->author().to_text() + ", not by " +
                          key->public_key().to_text() + "; only its author can retract it (--key)")));
    auto id = rec->id();
    ctx.exit_code = sign_and_store(**node, *key, "retraction", a->json,
                                   [&](sc::RecordBody::Builder b) {
                                     auto r = b.initPayload().initRetraction();
                                     r.setRelease(as_data(id));
                                     r.setReason(a->reason);
                                   },
                                   {{"release", p::to_hex(id)}});
  });
}

void add_profile(CLI::App& app, Context& ctx) {
  struct Args {
    std::string name, bio, avatar, key;
    std::vector<std::string> links;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "profile", "Set your public profile: display name, bio, avatar, links (a new one replaces yours)");
  cmd->add_option("--name", a->name, "Display name")->required();
  cmd->add_option("--bio", a->bio, "About you (Markdown)");
  cmd->add_option("--avatar", a->avatar, "An image (PNG/JPEG/WebP), added to this node's store");
  cmd->add_option("--link", a->links, "A link (repeatable)");
  cmd->add_option("--key", a->key, "Signing key (default <data dir>/identity.key)");
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->callback([&ctx, a] {
    auto key = key_of(ctx, a->key);
    if (!key) return void(ctx.exit_code = report(key.error()));
    auto node = open_node(ctx);
    if (!node) return void(ctx.exit_code = report(node.error()));
    std::optional<p::Sha256Digest> avatar;
    if (!a->avatar.empty()) {
      auto stored = store_image(*(*node)->store, a->avatar);
      if (!stored) return void(ctx.exit_code = report(stored.error()));
      avatar = stored->sha256;
    }
    ctx.exit_code = sign_and_store(**node, *key, "profile", a->json,
                                   [&](sc::RecordBody::Builder b) {
                                     auto r = b.initPayload().initProfile();
                                     r.setDisplayName(a->name);
                                     r.setBio(a->bio);
                                     if (avatar) r.setAvatar(as_data(*avatar));
                                     auto links = r.initLinks(static_cast<unsigned>(a->links.size()));
                                     for (unsigned i = 0; i < a->links.size(); ++i) links.set(i, a->links[i]);
                                   },
                                   {{"name", a->name}});
  });
}

void add_post_image(CLI::App& app, Context& ctx) {
  struct Args {
    std::string image, release, caption, key;
    bool nsfw = false, json = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd =
      app.add_subcommand("post-image", "Share an image you made with a release, with its generation parameters");
  cmd->add_option("image", a->image, "PNG, JPEG or WebP (parameters are read from it)")->required();
  cmd->add_option("--release", a->release, "Release id or any hash of its files")->required();
  cmd->add_option("--caption", a->caption, "Caption");
  cmd->add_flag("--nsfw", a->nsfw, "Mark the image NSFW");
  cmd->add_option("--key", a->key, "Signing key (default <data dir>/identity.key)");
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->callback([&ctx, a] {
    auto key = key_of(ctx, a->key);
    if (!key) return void(ctx.exit_code = report(key.error()));
    auto node = open_node(ctx);
    if (!node) return void(ctx.exit_code = report(node.error()));
    auto rec = find_release(*(*node)->index, a->release);
    if (!rec) return void(ctx.exit_code = report(rec.error()));
    auto stored = store_image(*(*node)->store, a->image);
    if (!stored) return void(ctx.exit_code = report(stored.error()));
    p::ReleaseImage img = std::move(stored).value();
    img.nsfw = a->nsfw;
    auto id = rec->id();
    ctx.exit_code = sign_and_store(**node, *key, "imagePost", a->json,
                                   [&](sc::RecordBody::Builder b) {
                                     auto r = b.initPayload().initImagePost();
                                     r.setRelease(as_data(id));
                                     p::fill_sample_image(img, r.initImage());
                                     r.setCaption(a->caption);
                                   },
                                   {{"release", p::to_hex(id)}, {"sha256", p::to_hex(img.sha256)}});
  });
}

void add_rotate_key(CLI::App& app, Context& ctx) {
  struct Args {
    std::string old_key, new_key, reason;
    std::vector<std::string> drop;
    bool revoke = false, trust_earlier = false, json = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "rotate-key", "Move your identity to a new key, signed by both; your releases show under the new one");
  cmd->add_option("--old", a->old_key, "The key you leave (default <data dir>/identity.key)");
  cmd->add_option("--new", a->new_key, "The key you move to (make one with `seedbank keygen --out FILE`)")->required();
  cmd->add_flag("--revoke", a->revoke,
                "The old key is compromised: anything it signs after this rotation is distrusted");
  cmd->add_option("--reason", a->reason, "Why (shown to users)");
  cmd->add_option("--drop", a->drop,
                  "With --revoke: a record id of the old key's not to vouch for (one a thief signed; repeatable)");
  cmd->add_flag("--trust-earlier", a->trust_earlier,
                "With --revoke: let every record the old key dated before now count, not only those this node "
                "holds (a thief can then back-date records)");
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->callback([&ctx, a] {
    auto old_key = key_of(ctx, a->old_key);
    if (!old_key) return void(ctx.exit_code = report(old_key.error()));
    auto new_key = p::load_secret_key(a->new_key);
    if (!new_key) return void(ctx.exit_code = report(new_key.error()));
    auto node = open_node(ctx);
    if (!node) return void(ctx.exit_code = report(node.error()));
    // Both keys sign: the old one the record, the new one its consent,
    // over the same createdAt.
    auto t = now_ms();
    // A revocation vouches for the old key's records this node holds, so
    // records a thief back-dates to before it count for nothing.
    std::vector<p::RecordId> keep;
    const bool keep_listed = a->revoke && !a->trust_earlier;
    if (keep_listed) {
      std::set<p::RecordId> drop;
      for (const auto& d : a->drop) {
        auto id = p::from_hex_fixed<32>(d);
        if (!id)
          return void(ctx.exit_code = report(p::make_error(p::ErrorCode::invalid_argument,
                                                           "--drop '" + d + "' is not a record id (64 hex digits)")));
        drop.insert(*id);
      }
      for (const auto& id : (*node)->index->records_by(old_key->public_key(), t))
        if (!drop.count(id)) keep.push_back(id);
      std::sort(keep.begin(), keep.end());
      if (keep.size() > p::kMaxKeptRecords)
        return void(ctx.exit_code = report(p::make_error(
                        p::ErrorCode::limit, "the old key signed " + std::to_string(keep.size()) +
                                                 " records here, more than a revocation can list (" +
                                                 std::to_string(p::kMaxKeptRecords) + "); use --trust-earlier")));
    }
    auto consent = new_key->sign(p::rotation_message(old_key->public_key(), new_key->public_key(), t));
    auto bytes = p::sign_record(
        *old_key, ctx.global.network, t,
        [&](sc::RecordBody::Builder b) {
          auto r = b.initPayload().initKeyRotation();
          r.setNewKey(as_data(new_key->public_key().bytes));
          r.setNewKeySignature(as_data(consent));
          r.setRevokeOld(a->revoke);
          r.setReason(a->reason);
          r.setKeepListed(keep_listed);
          auto list = r.initKeep(static_cast<unsigned>(keep.size()));
          for (unsigned i = 0; i < keep.size(); ++i) list.set(i, as_data(keep[i]));
        },
        p::kDefaultWorkBits);
    if (!bytes) return void(ctx.exit_code = report(bytes.error()));
    auto out = (*node)->index->ingest(*bytes, indexer::Durability::local);
    if (out.status == indexer::IngestStatus::rejected) return void(ctx.exit_code = report(out.error));
    announce_to_node((*node)->options.data_dir, {out.id});
    if (a->json)
      print_json({{"recordId", p::to_hex(out.id)},
                  {"kind", "keyRotation"},
                  {"old", old_key->public_key().to_text()},
                  {"new", new_key->public_key().to_text()},
                  {"revoked", a->revoke},
                  {"kept", keep_listed ? nlohmann::ordered_json(keep.size()) : nlohmann::ordered_json(nullptr)}});
    else
      std::cout << "key rotation " << p::to_hex(out.id) << ": " << old_key->public_key().to_text() << " -> "
                << new_key->public_key().to_text()
                << (!a->revoke    ? ""
                    : keep_listed ? " (old key revoked; its " + std::to_string(keep.size()) +
                                        " records held here still count, nothing else it signed does)"
                                  : " (old key revoked; records it dated earlier still count)")
                << "\n";
  });
}

void add_deny_list(CLI::App& app, Context& ctx) {
  struct Args {
    std::string name, reason, key;
    std::vector<std::string> releases, hashes, creators;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "deny-list", "Publish (or replace) a deny-list signed by your curator key; nodes that follow you apply it");
  cmd->add_option("--name", a->name, "The list's name (a new list of the same name replaces it)")->required();
  cmd->add_option("--release", a->releases, "A release id to deny (repeatable)");
  cmd->add_option("--hash", a->hashes, "A file's SHA-256 to deny wherever it appears (repeatable)");
  cmd->add_option("--creator", a->creators, "A creator key (sbpk1...) to deny (repeatable)");
  cmd->add_option("--reason", a->reason, "Why (kept with every entry)");
  cmd->add_option("--key", a->key, "Curator key (default <data dir>/identity.key)");
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->callback([&ctx, a] {
    auto key = key_of(ctx, a->key);
    if (!key) return void(ctx.exit_code = report(key.error()));
    std::vector<std::pair<int, p::Bytes>> entries;  // 0 release, 1 hash, 2 creator
    for (const auto& r : a->releases) {
      auto id = p::from_hex_fixed<32>(r);
      if (!id)
        return void(ctx.exit_code = report(p::make_error(p::ErrorCode::invalid_argument,
                                                         "--release " + r + " is not a release id (64 hex digits)")));
      entries.emplace_back(0, p::Bytes(id->begin(), id->end()));
    }
    for (const auto& h : a->hashes) {
      auto sha = p::from_hex_fixed<32>(h.rfind("sha256:", 0) == 0 ? h.substr(7) : h);
      if (!sha)
        return void(ctx.exit_code = report(p::make_error(p::ErrorCode::invalid_argument,
                                                         "--hash " + h + " is not a SHA-256 (64 hex digits)")));
      entries.emplace_back(1, p::Bytes(sha->begin(), sha->end()));
    }
    for (const auto& c : a->creators) {
      auto pk = p::PublicKey::from_text(c);
      if (!pk)
        return void(ctx.exit_code = report(p::make_error(p::ErrorCode::invalid_argument,
                                                         "--creator " + c + " is not a public key (sbpk1...)")));
      entries.emplace_back(2, p::Bytes(pk->bytes.begin(), pk->bytes.end()));
    }
    auto node = open_node(ctx);
    if (!node) return void(ctx.exit_code = report(node.error()));
    ctx.exit_code = sign_and_store(**node, *key, "denyList", a->json,
                                   [&](sc::RecordBody::Builder b) {
                                     auto list = b.initPayload().initDenyList();
                                     list.setName(a->name);
                                     auto out = list.initEntries(static_cast<unsigned>(entries.size()));
                                     for (unsigned i = 0; i < entries.size(); ++i) {
                                       auto target = out[i].initTarget();
                                       auto bytes = as_data(entries[i].second);
                                       if (entries[i].first == 0)
                                         target.setRelease(bytes);
                                       else if (entries[i].first == 1)
                                         target.setContentHash(bytes);
                                       else
                                         target.setCreator(bytes);
                                       out[i].setReason(a->reason);
                                     }
                                   },
                                   {{"name", a->name}, {"entries", entries.size()}});
  });
}

std::filesystem::path local_path(const Context& ctx) { return local_lists_path(ctx.global.resolved_data_dir()); }

std::vector<std::string>& list_named(LocalLists& lists, const char* list) {
  return std::string(list) == "follows" ? lists.follows : lists.favorites;
}

void add_local_list(CLI::App& app, Context& ctx, const char* command, const char* list, const char* what) {
  auto* cmd = app.add_subcommand(command, std::string("Your ") + what + " on this node (local; export with --json)");
  cmd->require_subcommand(1);
  auto item = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto change = [&ctx, list, item](bool add) {
    auto path = local_path(ctx);
    auto lists = read_local_lists(path);
    if (!lists) return report(lists.error());
    std::string value = *item;
    auto& existing = list_named(*lists, list);
    if (!add && std::find(existing.begin(), existing.end(), value) != existing.end()) {
      // Removing exactly what is listed needs no lookup (the release may not be here).
    } else if (std::string(list) == "follows") {
      if (!p::PublicKey::from_text(value))
        return report(p::make_error(p::ErrorCode::invalid_argument, "'" + value + "' is not a creator key (sbpk1...)"));
    } else {
      auto node = open_node(ctx);
      if (!node) return report(node.error());
      auto rec = find_release(*(*node)->index, value);
      if (!rec) return report(rec.error());
      value = p::to_hex(rec->id());
    }
    set_listed(existing, value, add);
    if (auto st = write_local_lists(path, *lists); !st) return report(st.error());
    std::cout << (add ? "added " : "removed ") << value << "\n";
    return static_cast<int>(kOk);
  };
  auto* add = cmd->add_subcommand("add", "Add one");
  add->add_option(
         "item", *item,
         std::string(list) == std::string("follows") ? "Creator key (sbpk1...)" : "Release id or any hash of its files")
      ->required();
  add->callback([&ctx, change] { ctx.exit_code = change(true); });
  auto* remove = cmd->add_subcommand("remove", "Remove one");
  remove->add_option("item", *item, "As given to add")->required();
  remove->callback([&ctx, change] { ctx.exit_code = change(false); });
  auto* ls = cmd->add_subcommand("list", "List them (with --json: an export another node can import)");
  ls->add_flag("--json", *json, "Print JSON");
  ls->callback([&ctx, list, json] {
    auto lists = read_local_lists(local_path(ctx));
    if (!lists) return void(ctx.exit_code = report(lists.error()));
    const auto& entries = list_named(*lists, list);
    if (*json)
      print_json({{list, entries}});
    else
      for (const auto& v : entries) std::cout << v << "\n";
  });
  auto file = std::make_shared<std::string>();
  auto* import = cmd->add_subcommand("import", "Add every entry of an exported list (JSON from list --json)");
  import->add_option("file", *file, "The exported JSON")->required();
  import->callback([&ctx, list, file] {
    if (!std::filesystem::exists(*file))
      return void(ctx.exit_code = report(p::make_error(p::ErrorCode::not_found, *file + ": no such file to import")));
  auto theirs = read_local_lists(*file);
  if (!theirs) return void(ctx.exit_code = report(theirs.error()));
  for (const auto& v : list_named(*theirs, list)) {
    bool ok =
        std::string(list) == "follows" ? p::PublicKey::from_text(v).has_value() : p::from_hex_fixed<32>(v).has_value();
    if (!ok)
      return void(ctx.exit_code = report(p::make_error(
                      p::ErrorCode::malformed, *file + ": '" + v + "' is not a " +
                                                   (std::string(list) == "follows" ? "creator key" : "release id"))));
  }
  auto path = local_path(ctx);
  auto mine = read_local_lists(path);
  if (!mine) return void(ctx.exit_code = report(mine.error()));
  std::size_t added = 0;
  for (const auto& v : list_named(*theirs, list)) added += set_listed(list_named(*mine, list), v, true);
  if (auto st = write_local_lists(path, *mine); !st) return void(ctx.exit_code = report(st.error()));
  std::cout << "imported " << added << " new " << list << "\n";
});
}  // namespace

}  // namespace seedbank::node::cli

void add_community_commands(CLI::App& app, Context& ctx) {
  add_local_list(app, ctx, "favorite", "favorites", "favourite releases");
  add_local_list(app, ctx, "follow", "follows", "followed creators");
  add_rate(app, ctx);
  add_retract(app, ctx);
  add_profile(app, ctx);
  add_post_image(app, ctx);
  add_rotate_key(app, ctx);
  add_deny_list(app, ctx);
}

}  // namespace seedbank::node::cli
