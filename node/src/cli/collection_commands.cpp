// seedbank collection: a user's signed lists of releases and images
// (schema Collection): set (create or change), delete, list and show.
#include <algorithm>
#include <charconv>
#include <iostream>

#include "../civitai.h"
#include "../collections.h"
#include "../community.h"
#include "cli.h"
#include "seedbank/protocol/community_draft.h"

namespace seedbank::node::cli {

namespace {

namespace p = seedbank::protocol;

std::optional<std::uint64_t> parse_number_text(const std::string& text) {
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return n;
}

// One line of text whatever a peer wrote.
std::string one_line(std::string s) {
  std::replace_if(
      s.begin(), s.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
  return s;
}

// What an item on the command line names: "image:<sha256>" (a release's
// sample image, or the image of a post), "post:<record id>", or a release
// id or any hash of its files.
p::Result<indexer::Subject> parse_item(indexer::Index& index, const std::string& text) {
  if (text.starts_with("post:")) {
    auto id = p::from_hex_fixed<32>(text.substr(5));
    if (!id) return p::make_error(p::ErrorCode::invalid_argument, text + ": give post:<the post's record id>");
    auto post = index.get(*id);
    if (!post || post->kind() != p::RecordKind::image_post)
      return p::make_error(p::ErrorCode::not_found, text + ": no image post with that id is known here");
    return indexer::Subject{digest_of(post->body().getPayload().getImagePost().getRelease()), std::nullopt, *id};
  }
  if (text.starts_with("image:")) {
    // image:<sha256>, or image:<sha256>@<release> when several releases
    // show the same image.
    auto spec = text.substr(6);
    std::optional<p::RecordId> of;
    if (auto at = spec.find('@'); at != std::string::npos) {
      auto rec = find_release(index, spec.substr(at + 1));
      if (!rec) return rec.error();
      of = rec->id();
      spec.resize(at);
    }
    auto sha = p::from_hex_fixed<32>(spec);
    if (!sha)
      return p::make_error(p::ErrorCode::invalid_argument,
                           text + ": give image:<the image's SHA-256>, or image:<SHA-256>@<release>");
    std::vector<p::RecordId> releases;
    if (auto matches = index.find_by_hash(p::to_hex(*sha), 16))
      for (const auto& m : *matches)
        if (m.file != indexer::kReleaseLevel && (m.file & indexer::kImageFlag) && (!of || m.release == *of) &&
            std::find(releases.begin(), releases.end(), m.release) == releases.end())
          releases.push_back(m.release);
    if (releases.size() > 1) {
      std::string list;
      for (const auto& r : releases) list += " " + p::to_hex(r).substr(0, 16);
      return p::make_error(p::ErrorCode::ambiguous, text + ": the sample image of several releases (" + list.substr(1) +
                                                        "); say which: image:<SHA-256>@<release>");
    }
    if (releases.size() == 1) return indexer::Subject{releases[0], *sha, std::nullopt};
    for (const auto& id : index.records_naming_image(*sha, 16))
      if (auto post = index.get(id); post && post->kind() == p::RecordKind::image_post) {
        auto release = digest_of(post->body().getPayload().getImagePost().getRelease());
        if (!of || release == *of) return indexer::Subject{release, std::nullopt, id};
      }
    return p::make_error(p::ErrorCode::not_found,
                         text + ": no release's sample image or image post with that SHA-256 is known here");
  }
  auto rec = find_release(index, text);
  if (!rec) return rec.error();
  return indexer::Subject{rec->id(), std::nullopt, std::nullopt};
}

nlohmann::ordered_json summary_json(const indexer::Index& index, const p::Record& rec) {
  auto c = rec.body().getPayload().getCollection();
  return {{"collectionId", collection_number(rec)},
          {"slug", c.getSlug().cStr()},
          {"key", p::to_hex(indexer::collection_key(rec.author(), c.getSlug().cStr()))},
          {"name", c.getName().cStr()},
          {"author", rec.author().to_text()},
          {"username", username_of(index, rec.author())},
          {"items", c.getItems().size()},
          {"updatedAt", iso8601(rec.created_at())},
          {"recordId", p::to_hex(rec.id())}};
}

void add_set(CLI::App& parent, Context& ctx) {
  struct Args {
    std::string slug, name, description, description_file, note, key;
    std::vector<std::string> add, remove;
    bool has_name = false, from_favorites = false, clear = false, json = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = parent.add_subcommand(
      "set", "Create one of your collections, or change it: name, description, items added or removed");
  cmd->add_option("slug", a->slug, "Which collection: 1-64 of a-z, 0-9 and - (say, my-loras)")->required();
  cmd->add_option("--name", a->name, "Its title (needed to create it)");
  cmd->add_option("--description", a->description, "Markdown");
  cmd->add_option("--description-file", a->description_file, "Markdown from a file")->excludes("--description");
  cmd->add_option("--add", a->add,
                  "An item to append: a release id or any hash of its files, image:<sha256> (image:<sha256>@<release> "
                  "when several releases show it) or post:<record id> (repeat for more)");
  cmd->add_option("--remove", a->remove, "An item to remove, named as for --add (repeat for more)");
  cmd->add_option("--note", a->note, "A note shown with the items added");
  cmd->add_flag("--from-favorites", a->from_favorites, "Add this node's favourites (seedbank favorite list)");
  cmd->add_flag("--clear", a->clear, "Start from no items (then --add, --from-favorites)");
  cmd->add_option("--key", a->key, "Signing key (default <data dir>/identity.key)");
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->callback([&ctx, a, cmd] {
    auto key = key_of(ctx, a->key);
    if (!key) return void(ctx.exit_code = report(key.error()));
    with_node(ctx, [&](NodeContext& node) {
      CollectionRequest ask;
      ask.slug = a->slug;
      if (cmd->count("--name")) ask.name = a->name;
      if (cmd->count("--description") || cmd->count("--description-file")) {
        auto text = text_or_file(a->description, a->description_file);
        if (!text) return report(text.error());
        ask.description = *text;
      }
      if (a->clear) ask.items.emplace();
      for (const auto& item : a->add) {
        auto s = parse_item(*node.index, item);
        if (!s) return report(s.error());
        ask.add.push_back({*s, a->note});
      }
      if (a->from_favorites) {
        auto lists = read_local_lists(local_lists_path(ctx.global.resolved_data_dir()));
        if (!lists) return report(lists.error());
        std::size_t shown = 0;
        for (const auto& hex : lists->favorites)
          if (auto id = p::from_hex_fixed<32>(hex))
            if (!node.options.config.refuses_subject({*id, std::nullopt, std::nullopt}, *node.index)) {
              ask.add.push_back({{*id, std::nullopt, std::nullopt}, a->note});
              ++shown;
            }
        if (!shown)
          return report(p::make_error(p::ErrorCode::invalid_argument,
                                      "--from-favorites: this node has no favourites it shows (seedbank favorite add "
                                      "RELEASE first)"));
      }
      for (const auto& item : a->remove) {
        auto s = parse_item(*node.index, item);
        if (!s) return report(s.error());
        ask.remove.push_back(*s);
      }
      auto change = collection_change(*node.index, node.options.config, key->public_key(), ask);
      if (!change) return report(change.error());
      const auto& d = change->draft;
      auto number = indexer::numeric_id(indexer::collection_key(key->public_key(), d.slug));
      return sign_and_store(node, *key, a->json, d,
                            {{"collectionId", number}, {"slug", d.slug}, {"items", d.items.size()}},
                            std::max(now_ms(), change->not_before_ms));
    });
  });
}

void add_delete(CLI::App& parent, Context& ctx) {
  struct Args {
    std::string slug, key;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = parent.add_subcommand("delete", "Withdraw one of your collections from every node");
  cmd->add_option("slug", a->slug, "Which collection")->required();
  cmd->add_option("--key", a->key, "Signing key (default <data dir>/identity.key)");
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->callback([&ctx, a] {
    auto key = key_of(ctx, a->key);
    if (!key) return void(ctx.exit_code = report(key.error()));
    with_node(ctx, [&](NodeContext& node) {
      CollectionRequest ask;
      ask.slug = a->slug;
      ask.deleted = true;
      auto change = collection_change(*node.index, node.options.config, key->public_key(), ask);
      if (!change) return report(change.error());
      return sign_and_store(node, *key, a->json, change->draft, {{"slug", a->slug}, {"deleted", true}},
                            std::max(now_ms(), change->not_before_ms));
    });
  });
}

void add_list(CLI::App& parent, Context& ctx) {
  struct Args {
    std::string creator;
    std::size_t limit = 100;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = parent.add_subcommand("list", "List collections this node shows, newest first");
  cmd->add_option("--creator", a->creator, "Only this creator's (a key sbpk1..., or a display name)");
  cmd->add_option("--limit", a->limit, "At most this many (default 100)")->check(CLI::Range(1, 1000));
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->callback([&ctx, a] {
    with_node(ctx, [&](NodeContext& node) {
      auto& index = *node.index;
      std::vector<p::Record> shown;
      auto keep = [&](p::Result<p::Record> rec) {
        if (rec && !refuses_collection(index, node.options.config, *rec)) shown.push_back(std::move(*rec));
      };
      if (!a->creator.empty()) {
        std::vector<p::PublicKey> keys;
        if (auto k = p::PublicKey::from_text(a->creator))
          keys.push_back(*k);
        else
          keys = index.keys_named(a->creator);
        for (const auto& k : keys)
          for (const auto& id : index.collections_by(k, kMaxAuthorCollections)) keep(index.get(id));
        std::sort(shown.begin(), shown.end(),
                  [](const p::Record& x, const p::Record& y) { return x.created_at() > y.created_at(); });
        if (shown.size() > a->limit) shown.erase(shown.begin() + static_cast<std::ptrdiff_t>(a->limit), shown.end());
      } else {
        std::optional<indexer::FeedEntry> after;
        while (shown.size() < a->limit) {
          auto page = index.collections(after, 256);
          for (const auto& e : page)
            if (shown.size() < a->limit) keep(index.get(e.id));
          if (page.size() < 256) break;
          after = page.back();
        }
      }
      if (a->json) {
        auto list = nlohmann::ordered_json::array();
        for (const auto& rec : shown) list.push_back(summary_json(index, rec));
        print_json({{"collections", list}});
        return static_cast<int>(kOk);
      }
      if (shown.empty()) std::cout << "no collections" << (a->creator.empty() ? "" : " by " + a->creator) << "\n";
      for (const auto& rec : shown) {
        auto c = rec.body().getPayload().getCollection();
        std::cout << collection_number(rec) << "  " << one_line(c.getName().cStr()) << "  (" << c.getItems().size()
                  << " items, " << c.getSlug().cStr() << " by " << one_line(username_of(index, rec.author())) << ")\n";
      }
      return static_cast<int>(kOk);
    });
  });
}

void add_show(CLI::App& parent, Context& ctx) {
  struct Args {
    std::string which, creator, key;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = parent.add_subcommand("show", "Show a collection and its items as this node shows them");
  cmd->add_option("collection", a->which, "Its number (collection list), or a slug of yours or of --creator")
      ->required();
  cmd->add_option("--creator", a->creator, "Whose slug (a key sbpk1...; default yours)");
  cmd->add_option("--key", a->key, "Your key, for your slugs (default <data dir>/identity.key)");
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->callback([&ctx, a] {
    with_node(ctx, [&](NodeContext& node) {
      auto& index = *node.index;
      std::optional<p::RecordId> id;
      // A number, else a slug (a slug may be all digits too).
      if (auto n = parse_number_text(a->which)) id = index.collection_by_number(*n);
      if (!id) {
        std::optional<p::PublicKey> author;
        if (!a->creator.empty()) {
          author = p::PublicKey::from_text(a->creator);
          if (!author)
            return report(p::make_error(p::ErrorCode::invalid_argument,
                                        "--creator: give a creator key (sbpk1...), not '" + a->creator + "'"));
        } else if (auto key = key_of(ctx, a->key)) {
          author = key->public_key();
        } else {
          return report(key.error());
        }
        id = index.current(p::RecordKind::collection, *author, p::record_id_of(p::as_bytes(a->which)));
      }
      auto rec = id ? index.get(*id) : p::Result<p::Record>(p::make_error(p::ErrorCode::not_found, ""));
      std::optional<std::string> why;
      if (rec) why = refuses_collection(index, node.options.config, *rec);
      if (!rec || why)
        return report(p::make_error(p::ErrorCode::not_found,
                                    "no collection '" + a->which + "' is shown here" + (why ? ": " + *why : "")));
      auto c = rec->body().getPayload().getCollection();
      nlohmann::ordered_json list = nlohmann::ordered_json::array();
      if (!a->json) {
        std::cout << one_line(c.getName().cStr()) << "  (collection " << collection_number(*rec) << ", "
                  << c.getSlug().cStr() << " by " << one_line(username_of(index, rec->author())) << ")\n";
        if (c.getDescription().size()) std::cout << c.getDescription().cStr() << "\n";
      }
      auto shown = for_each_shown_item(index, node.options.config, *rec, kMaxShownItems, [&](const ShownItem& s) {
        auto r = s.release.body().getPayload().getRelease();
        if (a->json) {
          nlohmann::ordered_json item = {
              {"type", s.is_image() ? "image" : "model"},     {"releaseId", p::to_hex(s.release.id())},
              {"modelVersionId", civitai_id(s.release.id())}, {"modelName", r.getModelName().cStr()},
              {"versionName", r.getVersionName().cStr()},     {"note", s.item.note}};
          if (s.item.subject.image) item["image"] = p::to_hex(*s.item.subject.image);
          if (s.post) item["post"] = p::to_hex(s.post->id());
          list.push_back(std::move(item));
          return true;
        }
        std::cout << "  "
                  << (s.post    ? "post  "
                      : s.image ? "image "
                                : "model ")
                  << one_line(r.getModelName().cStr()) << " · " << one_line(r.getVersionName().cStr()) << "  "
                  << (s.post                 ? p::to_hex(s.post->id())
                      : s.item.subject.image ? p::to_hex(*s.item.subject.image)
                                             : p::to_hex(s.release.id()));
        if (!s.item.note.empty()) std::cout << "  — " << one_line(s.item.note);
        std::cout << "\n";
        return true;
      });
      if (a->json) {
        auto j = summary_json(index, *rec);
        j["description"] = c.getDescription().cStr();
        j["shown"] = std::move(list);
        print_json(j);
      } else if (shown < c.getItems().size()) {
        std::cout << "  (" << c.getItems().size() - shown << " more that this node does not show)\n";
      }
      return static_cast<int>(kOk);
    });
  });
}

}  // namespace

void add_collection_commands(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("collection",
                                 "Your signed collections of releases and images, shown on every node (Civitai's "
                                 "collections)");
  cmd->require_subcommand(1);
  add_set(*cmd, ctx);
  add_delete(*cmd, ctx);
  add_list(*cmd, ctx);
  add_show(*cmd, ctx);
}

}  // namespace seedbank::node::cli
