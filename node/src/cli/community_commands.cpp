// The social acts, each a signed record: seedbank rate, retract, profile,
// post-image, react, comment, rotate-key and deny-list (and `comments`,
// which lists what others wrote). Each is stored in the local index
// at once (fully synced: no peer has it yet) and a running node on the same
// data dir announces it to its peers within moments.
#include <algorithm>
#include <iostream>
#include <set>
#include <sstream>

#include "../civitai.h"
#include "../client.h"
#include "../community.h"
#include "cli.h"
#include "seedbank/node/data_dir.h"
#include "seedbank/protocol/community_draft.h"
#include "seedbank/protocol/image_meta.h"
#include "seedbank/protocol/release.h"

namespace seedbank::node::cli {

namespace {

namespace p = seedbank::protocol;
namespace sc = seedbank::schema;

// The options every signing command has.
struct SigningArgs {
  std::string key;
  bool json = false;
};
void add_signing_options(CLI::App* cmd, SigningArgs& a, const char* key_help = nullptr) {
  cmd->add_option("--key", a.key, key_help ? key_help : "Signing key (default <data dir>/identity.key)");
  cmd->add_flag("--json", a.json, "Print JSON");
}

// Loads the signing key, opens the node and finds `release` in it, then
// runs `body`; sets the exit code.
void with_release(Context& ctx, const SigningArgs& a, const std::string& release,
                  const std::function<int(NodeContext&, const p::SecretKey&, const p::Record&)>& body) {
  auto key = key_of(ctx, a.key);
  if (!key) return void(ctx.exit_code = report(key.error()));
  with_node(ctx, [&](NodeContext& node) {
    auto rec = find_release(*node.index, release);
    if (!rec) return report(rec.error());
    return body(node, *key, *rec);
  });
}

void add_rate(CLI::App& app, Context& ctx) {
  struct Args : SigningArgs {
    std::string release, review;
    int stars = 0;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "rate", "Rate a release 1-5 stars, with an optional review (one per key; a new one replaces yours)");
  cmd->add_option("release", a->release, "Release id or any hash of its files")->required();
  cmd->add_option("--stars", a->stars, "1 to 5")->required()->check(CLI::Range(1, 5));
  cmd->add_option("--review", a->review, "Review text (Markdown)");
  add_signing_options(cmd, *a);
  cmd->callback([&ctx, a] {
    with_release(ctx, *a, a->release, [&](NodeContext& node, const p::SecretKey& key, const p::Record& rec) {
      if (current_identity(*node.index, rec.author()) == current_identity(*node.index, key.public_key()))
        return report(p::make_error(p::ErrorCode::invalid_argument,
                                    "you published this release (the key signing it is the release's); a creator "
                                    "cannot rate their own release"));
      p::RatingDraft draft{rec.id(), static_cast<unsigned>(a->stars), a->review};
      return sign_and_store(node, key, a->json, draft, {{"release", p::to_hex(rec.id())}, {"stars", a->stars}});
    });
  });
}

// --image / --post: which part of a release a reaction or comment is about.
struct SubjectArgs {
  std::string image, post;
};
void add_subject_options(CLI::App* cmd, SubjectArgs& a) {
  cmd->add_option("--image", a.image, "About one of the release's sample images (its SHA-256)");
  cmd->add_option("--post", a.post, "About an image post on the release (its record id)")->excludes("--image");
}
p::Result<indexer::Subject> subject_from(const SubjectArgs& a, const p::Record& release) {
  indexer::Subject s{release.id(), std::nullopt, std::nullopt};
  if (!a.image.empty() && !(s.image = p::from_hex_fixed<32>(a.image)))
    return p::make_error(p::ErrorCode::invalid_argument, "--image: give the image's SHA-256 (64 hex digits)");
  if (!a.post.empty() && !(s.post = p::from_hex_fixed<32>(a.post)))
    return p::make_error(p::ErrorCode::invalid_argument, "--post: give the post's record id (64 hex digits)");
  return s;
}

void add_react(CLI::App& app, Context& ctx) {
  struct Args : SigningArgs, SubjectArgs {
    std::string release, reaction;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "react",
      "React to a release, one of its images or a post: like, heart, laugh or cry (one per key; none withdraws)");
  cmd->add_option("release", a->release, "Release id or any hash of its files")->required();
  cmd->add_option("reaction", a->reaction, "like, heart, laugh, cry, or none")->required();
  add_subject_options(cmd, *a);
  add_signing_options(cmd, *a);
  cmd->callback([&ctx, a] {
    auto kind = p::parse_reaction(a->reaction);
    if (!kind)
      return void(ctx.exit_code = report(p::make_error(
                      p::ErrorCode::invalid_argument,
                      "'" + a->reaction + "' is not a reaction: like, heart, laugh, cry, or none to withdraw yours")));
    with_release(ctx, *a, a->release, [&](NodeContext& node, const p::SecretKey& key, const p::Record& rec) {
      auto subject = subject_from(*a, rec);
      if (!subject) return report(subject.error());
      if (auto why = node.options.config.refuses_subject(*subject, *node.index))
        return report(p::make_error(p::ErrorCode::refused, "this node does not show what you react to: " + *why));
      p::ReactionDraft draft{*subject, *kind};
      auto counts = [&] {
        auto c = node.index->social(*subject);
        return nlohmann::ordered_json{
            {"like", c.like}, {"heart", c.heart}, {"laugh", c.laugh}, {"cry", c.cry}, {"comments", c.comments}};
      };
      int rc = sign_and_store(
          node, key, a->json, draft,
          {{"release", p::to_hex(rec.id())}, {"reaction", p::kReactionNames[static_cast<std::size_t>(*kind)]}});
      if (rc == kOk && !a->json) std::cout << "now " << counts().dump() << "\n";
      return rc;
    });
  });
}

void add_comment(CLI::App& app, Context& ctx) {
  struct Args : SigningArgs, SubjectArgs {
    std::string release, text, reply, edit, remove;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("comment",
                                 "Comment on a release, one of its images or a post (Markdown); reply, edit or "
                                 "delete with --reply, --edit, --delete");
  cmd->add_option("release", a->release, "Release id or any hash of its files (not with --edit/--delete)");
  cmd->add_option("--text", a->text, "The comment (Markdown, at most 8 KiB)");
  cmd->add_option("--reply", a->reply, "Reply to this top-level comment (its id)");
  auto* edit = cmd->add_option("--edit", a->edit, "Replace the text of one of your comments (its id)");
  cmd->add_option("--delete", a->remove, "Withdraw one of your comments (its id)")->excludes(edit);
  add_subject_options(cmd, *a);
  add_signing_options(cmd, *a);
  cmd->callback([&ctx, a] {
    auto key = key_of(ctx, a->key);
    if (!key) return void(ctx.exit_code = report(key.error()));
    auto id = [](const std::string& text, const char* option) -> p::Result<std::optional<p::RecordId>> {
      if (text.empty()) return std::optional<p::RecordId>();
      auto v = p::from_hex_fixed<32>(text);
      if (!v)
        return p::make_error(p::ErrorCode::invalid_argument,
                             std::string(option) + ": give a comment id (64 hex digits)");
      return std::optional<p::RecordId>(*v);
    };
    with_node(ctx, [&](NodeContext& node) {
      CommentRequest ask;
      ask.text = a->text;
      ask.deleted = !a->remove.empty();
      auto edits = id(ask.deleted ? a->remove : a->edit, ask.deleted ? "--delete" : "--edit");
      auto parent = id(a->reply, "--reply");
      if (!edits) return report(edits.error());
      if (!parent) return report(parent.error());
      ask.edits = *edits;
      ask.parent = *parent;
      if (!ask.edits) {
        if (a->release.empty())
          return report(p::make_error(p::ErrorCode::invalid_argument, "say which release the comment is about"));
        auto rec = find_release(*node.index, a->release);
        if (!rec) return report(rec.error());
        auto subject = subject_from(*a, *rec);
        if (!subject) return report(subject.error());
        ask.subject = *subject;
      }
      auto draft = comment_draft(*node.index, node.options.config, key->public_key(), ask);
      if (!draft) return report(draft.error());
      nlohmann::ordered_json extra = {{"deleted", ask.deleted}};
      if (draft->edits) extra["id"] = p::to_hex(*draft->edits);  // a new comment's id is its recordId
      return sign_and_store(node, *key, a->json, *draft, extra);
    });
  });
}

void add_comments(CLI::App& app, Context& ctx) {
  struct Args : SubjectArgs {
    std::string release, cursor;
    std::size_t limit = 50;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("comments", "List the comments on a release, one of its images or a post");
  cmd->add_option("release", a->release, "Release id or any hash of its files")->required();
  cmd->add_option("--limit", a->limit, "Top-level comments to list (default 50)")->check(CLI::Range(1, 100));
  cmd->add_option("--cursor", a->cursor, "Go on from where the last page ended (its \"next\")");
  add_subject_options(cmd, *a);
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->callback([&ctx, a] {
    with_node(ctx, [&](NodeContext& node) -> int {
      auto rec = find_release(*node.index, a->release);
      if (!rec) return report(rec.error());
      auto subject = subject_from(*a, *rec);
      if (!subject) return report(subject.error());
      if (auto why = node.options.config.refuses_subject(*subject, *node.index))
        return report(p::make_error(p::ErrorCode::refused, "this node does not show that: " + *why));
      std::optional<indexer::FeedEntry> before;
      if (!a->cursor.empty() && !(before = parse_comment_cursor(a->cursor)))
        return report(
            p::make_error(p::ErrorCode::invalid_argument, "--cursor: give the \"next\" a previous page printed"));
      auto page = comment_page(*node.index, node.options.config, *subject, before, a->limit);
      auto one = [&](const CommentView& v) {
        auto c = v.shown().body().getPayload().getComment();
        return nlohmann::ordered_json{{"id", p::to_hex(v.original.id())},
                                      {"creator", v.original.author().to_text()},
                                      {"username", username_of(*node.index, v.original.author())},
                                      {"createdAt", iso8601(v.original.created_at())},
                                      {"edited", v.edit.has_value()},
                                      {"deleted", v.deleted()},
                                      {"text", c.getText().cStr()}};
      };
      auto counts = node.index->social(*subject);
      auto next = [&]() -> nlohmann::ordered_json {
        return before ? nlohmann::ordered_json(comment_cursor(*before)) : nlohmann::ordered_json();
      };
      if (a->json) {
        auto items = nlohmann::ordered_json::array();
        for (const auto& v : page) {
          auto item = one(v);
          item["replies"] = nlohmann::ordered_json::array();
          for (const auto& r : v.replies) item["replies"].push_back(one(r));
          items.push_back(item);
        }
        print_json({{"items", items},
                    {"stats",
                     {{"like", counts.like},
                      {"heart", counts.heart},
                      {"laugh", counts.laugh},
                      {"cry", counts.cry},
                      {"comments", counts.comments}}},
                    {"next", next()}});
        return kOk;
      }
      std::cout << counts.comments << " comments, " << counts.like << " likes, " << counts.heart << " hearts, "
                << counts.laugh << " laughs, " << counts.cry << " cries\n";
      auto print = [&](const CommentView& v, const char* indent) {
        auto j = one(v);
        std::cout << "\n"
                  << indent << j["username"].get<std::string>() << " · " << j["createdAt"].get<std::string>()
                  << (j["edited"] == true ? " (edited)" : "") << "  [" << j["id"].get<std::string>().substr(0, 16)
                  << "]\n";
        std::string text = v.deleted() ? "[deleted]" : j["text"].get<std::string>();
        std::istringstream lines(text);
        for (std::string line; std::getline(lines, line);) std::cout << indent << "  " << line << "\n";
      };
      for (const auto& v : page) {
        print(v, "");
        for (const auto& r : v.replies) print(r, "    ");
      }
      if (before) std::cout << "\nmore: --cursor " << next().get<std::string>() << "\n";
      return kOk;
    });
  });
}

void add_retract(CLI::App& app, Context& ctx) {
  struct Args : SigningArgs {
    std::string release, reason;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("retract", "Withdraw a release you published: nodes stop listing and seeding it");
  cmd->add_option("release", a->release, "Release id or any hash of its files")->required();
  cmd->add_option("--reason", a->reason, "Why (shown to users)");
  add_signing_options(cmd, *a, "The release's signing key (default <data dir>/identity.key)");
  cmd->callback([&ctx, a] {
    with_release(ctx, *a, a->release, [&](NodeContext& node, const p::SecretKey& key, const p::Record& rec) {
      if (rec.author() != key.public_key())
        return report(p::make_error(p::ErrorCode::invalid_argument, "release " + p::to_hex(rec.id()) +
                                                                        " was signed by " + rec.author().to_text() +
                                                                        ", not by " + key.public_key().to_text() +
                                                                        "; only its author can retract it (--key)"));
      return sign_and_store(node, key, a->json, p::RetractionDraft{rec.id(), a->reason},
                            {{"release", p::to_hex(rec.id())}});
    });
  });
}

const char* level_name(unsigned level) {
  return level >= p::kXXX ? "XXX" : level >= p::kX ? "X" : level >= p::kR ? "R" : level >= p::kPG13 ? "PG-13" : "PG";
}

// The page of a release as shown (after its author's update), as JSON.
nlohmann::ordered_json page_json(const indexer::Index& index, const p::Record& release) {
  auto shown = index.shown(release);
  auto d = p::update_draft_of(shown);
  auto images = nlohmann::ordered_json::array();
  auto r = shown.body().getPayload().getRelease();
  for (auto img : r.getImages())
    images.push_back({{"sha256", p::to_hex(p::util::digest_of(img.getSha256()))},
                      {"name", img.getName().cStr()},
                      {"nsfwLevel", p::nsfw_level_of(img, r)}});
  auto hidden = nlohmann::ordered_json::array();
  for (auto img : release.body().getPayload().getRelease().getImages()) {
    bool listed = false;
    for (auto s : r.getImages()) listed = listed || s.getSha256() == img.getSha256();
    if (!listed) hidden.push_back(p::to_hex(p::util::digest_of(img.getSha256())));
  }
  auto update = index.update_of(release);
  return {{"release", p::to_hex(release.id())},
          {"update", update ? nlohmann::ordered_json(p::to_hex(*update)) : nlohmann::ordered_json()},
          {"modelDescription", d.model_description},
          {"description", d.description},
          {"tags", d.tags},
          {"triggerWords", d.trigger_words},
          {"nsfw", d.nsfw},
          {"images", images},
          {"hiddenImages", hidden}};
}

void add_update(CLI::App& app, Context& ctx) {
  struct Args : SigningArgs {
    std::string release, model_description, model_description_file, description, description_file;
    std::vector<std::string> tags, triggers, levels, hide, show;
    bool clear_tags = false, clear_triggers = false, nsfw = false, sfw = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "update",
      "Change what your release's page shows: the model's description, this version's notes, tags, trigger "
      "words, NSFW, which sample images show and their levels (never the files). Without changes: print the "
      "page as shown");
  cmd->add_option("release", a->release, "Release id or any hash of its files")->required();
  cmd->add_option("--model-description", a->model_description, "The model's description (Markdown)");
  cmd->add_option("--model-description-file", a->model_description_file, "Read it from a file");
  cmd->add_option("--description", a->description, "This version's notes (Markdown)");
  cmd->add_option("--description-file", a->description_file, "Read them from a file");
  cmd->add_option("--tag", a->tags, "The tags, replacing the current ones (repeatable)");
  cmd->add_flag("--clear-tags", a->clear_tags, "Remove every tag");
  cmd->add_option("--trigger", a->triggers, "The trigger words, replacing the current ones (repeatable)");
  cmd->add_flag("--clear-triggers", a->clear_triggers, "Remove every trigger word");
  auto* nsfw = cmd->add_flag("--nsfw", a->nsfw, "Mark the release NSFW");
  cmd->add_flag("--sfw", a->sfw, "Mark the release not NSFW")->excludes(nsfw);
  cmd->add_option("--image-level", a->levels,
                  "A sample image's NSFW level: SHA256=LEVEL (PG, PG-13, R, X, XXX; a hash prefix of 8+ digits "
                  "will do; repeatable)");
  cmd->add_option("--hide-image", a->hide, "Stop showing a sample image (its SHA-256 or a prefix; repeatable)");
  cmd->add_option("--show-image", a->show, "Show a hidden sample image again, last (repeatable)");
  add_signing_options(cmd, *a, "The release's signing key (default <data dir>/identity.key)");
  cmd->callback([&ctx, a, cmd] {
    with_node(ctx, [&](NodeContext& node) -> int {
      auto found = find_release(*node.index, a->release);
      if (!found) return report(found.error());
      const p::Record& rec = *found;
      UpdateRequest ask;
      auto text = [](const std::string& t, const std::string& file, bool given,
                     std::optional<std::string>& to) -> p::Status {
        if (!given) return {};
        auto v = text_or_file(t, file);
        if (!v) return v.error();
        to = std::move(*v);
        return {};
      };
      if (auto st = text(a->model_description, a->model_description_file,
                         cmd->count("--model-description") + cmd->count("--model-description-file") > 0,
                         ask.model_description);
          !st)
        return report(st.error());
      if (auto st = text(a->description, a->description_file,
                         cmd->count("--description") + cmd->count("--description-file") > 0, ask.description);
          !st)
        return report(st.error());
      if (!a->tags.empty() || a->clear_tags) ask.tags = a->tags;
      if (!a->triggers.empty() || a->clear_triggers) ask.trigger_words = a->triggers;
      if (a->nsfw || a->sfw) ask.nsfw = a->nsfw;
      // An image by its SHA-256 or a prefix of it, among the release's.
      auto image = [&](const std::string& given) -> p::Result<p::Sha256Digest> {
        std::string hex = given;
        for (auto& c : hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::optional<p::Sha256Digest> found;
        for (auto img : rec.body().getPayload().getRelease().getImages()) {
          auto sha = p::util::digest_of(img.getSha256());
          if (hex.size() < 8 || p::to_hex(sha).rfind(hex, 0) != 0) continue;
          if (found && *found != sha)
            return p::make_error(p::ErrorCode::ambiguous, "'" + given + "' starts more than one image's SHA-256");
          found = sha;
        }
        if (!found)
          return p::make_error(p::ErrorCode::invalid_argument,
                               "the release has no sample image whose SHA-256 starts with '" + given +
                                   "' (8 hex digits at least); `seedbank update " + a->release + "` lists them");
        return *found;
      };
      for (const auto& l : a->levels) {
        auto eq = l.find('=');
        auto level = eq == std::string::npos ? std::nullopt : p::parse_nsfw_level(l.substr(eq + 1));
        if (!level)
          return report(p::make_error(p::ErrorCode::invalid_argument,
                                      "--image-level " + l + ": give SHA256=LEVEL, LEVEL one of PG, PG-13, R, X, XXX"));
        auto sha = image(l.substr(0, eq));
        if (!sha) return report(sha.error());
        ask.image_levels.emplace_back(*sha, *level);
      }
      for (const auto& [list, to] : {std::pair{&a->hide, &ask.hidden_images}, std::pair{&a->show, &ask.shown_images}})
        for (const auto& h : *list) {
          auto sha = image(h);
          if (!sha) return report(sha.error());
          to->push_back(*sha);
        }
      bool changes = ask.model_description || ask.description || ask.tags || ask.trigger_words || ask.nsfw ||
                     !ask.image_levels.empty() || !ask.hidden_images.empty() || !ask.shown_images.empty();
      if (!changes) {
        auto page = page_json(*node.index, rec);
        if (a->json) {
          print_json(page);
          return kOk;
        }
        std::cout << "release " << page["release"].get<std::string>() << "\n"
                  << (page["update"].is_null() ? std::string("as published")
                                               : "as updated by " + page["update"].get<std::string>())
                  << "\nmodel description: " << page["modelDescription"].get<std::string>().size() << " bytes"
                  << "\nversion notes: " << page["description"].get<std::string>().size() << " bytes"
                  << "\ntags: " << page["tags"].dump() << "\ntrigger words: " << page["triggerWords"].dump()
                  << "\nNSFW: " << (page["nsfw"] == true ? "yes" : "no") << "\nimages:\n";
        for (const auto& img : page["images"])
          std::cout << "  " << img["sha256"].get<std::string>() << "  " << level_name(img["nsfwLevel"].get<unsigned>())
                    << "  " << img["name"].get<std::string>() << "\n";
        for (const auto& h : page["hiddenImages"]) std::cout << "  " << h.get<std::string>() << "  (hidden)\n";
        return kOk;
      }
      auto key = key_of(ctx, a->key);  // only to sign: the page shows without one
      if (!key) return report(key.error());
      auto draft = update_draft(*node.index, rec, key->public_key(), ask);
      if (!draft) return report(draft.error());
      return sign_and_store(node, *key, a->json, *draft, {{"release", p::to_hex(rec.id())}});
    });
  });
}

void add_profile(CLI::App& app, Context& ctx) {
  struct Args : SigningArgs {
    std::string name, bio, avatar;
    std::vector<std::string> links;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "profile", "Set your public profile: display name, bio, avatar, links (a new one replaces yours)");
  cmd->add_option("--name", a->name, "Display name")->required();
  cmd->add_option("--bio", a->bio, "About you (Markdown)");
  cmd->add_option("--avatar", a->avatar, "An image (PNG/JPEG/WebP), added to this node's store");
  cmd->add_option("--link", a->links, "A link (repeatable)");
  add_signing_options(cmd, *a);
  cmd->callback([&ctx, a] {
    auto key = key_of(ctx, a->key);
    if (!key) return void(ctx.exit_code = report(key.error()));
    with_node(ctx, [&](NodeContext& node) {
      p::ProfileDraft draft{a->name, a->bio, a->links, std::nullopt};
      if (!a->avatar.empty()) {
        if (auto read = read_image(a->avatar); read && p::is_video_type(read->mime_type))
          return report(p::make_error(p::ErrorCode::invalid_argument,
                                      a->avatar + ": a video cannot be an avatar; choose a PNG, JPEG or WebP image"));
        auto stored = store_image(*node.store, a->avatar);
        if (!stored) return report(stored.error());
        draft.avatar = stored->sha256;
      }
      return sign_and_store(node, *key, a->json, draft, {{"name", a->name}});
    });
  });
}

void add_post_image(CLI::App& app, Context& ctx) {
  struct Args : SigningArgs {
    std::string image, release, caption, nsfw_level;
    bool nsfw = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd =
      app.add_subcommand("post-image", "Share an image you made with a release, with its generation parameters");
  cmd->add_option("image", a->image,
                  "PNG, JPEG or WebP image, or a short MP4 or WebM video (parameters are read from it)")
      ->required();
  cmd->add_option("--release", a->release, "Release id or any hash of its files")->required();
  cmd->add_option("--caption", a->caption, "Caption");
  cmd->add_flag("--nsfw", a->nsfw, "Mark the image NSFW");
  cmd->add_option("--nsfw-level", a->nsfw_level,
                  "Its browsing level, as Civitai rates images: PG, PG-13, R, X or XXX (R and above mark it NSFW)");
  add_signing_options(cmd, *a);
  cmd->callback([&ctx, a] {
    with_release(ctx, *a, a->release, [&](NodeContext& node, const p::SecretKey& key, const p::Record& rec) {
      auto stored = store_image(*node.store, a->image);
      if (!stored) return report(stored.error());
      p::ImagePostDraft draft{rec.id(), std::move(stored).value(), a->caption};
      draft.image.nsfw = a->nsfw;
      if (!a->nsfw_level.empty()) {
        auto level = p::parse_nsfw_level(a->nsfw_level);
        if (!level)
          return report(p::make_error(p::ErrorCode::invalid_argument,
                                      "--nsfw-level: '" + a->nsfw_level + "' is not PG, PG-13, R, X or XXX"));
        draft.image.nsfw_level = *level;
      }
      return sign_and_store(node, key, a->json, draft,
                            {{"release", p::to_hex(rec.id())}, {"sha256", p::to_hex(draft.image.sha256)}});
    });
  });
}

// The old key's records this node holds at `t`, but those in `drop`: what a
// revocation vouches for, so records a thief back-dates count for nothing.
p::Result<std::vector<p::RecordId>> records_to_keep(indexer::Index& index, const p::PublicKey& old_key, std::uint64_t t,
                                                    const std::vector<std::string>& drop_hex) {
  std::set<p::RecordId> drop;
  for (const auto& d : drop_hex) {
    auto id = p::from_hex_fixed<32>(d);
    if (!id)
      return p::make_error(p::ErrorCode::invalid_argument, "--drop '" + d + "' is not a record id (64 hex digits)");
    drop.insert(*id);
  }
  std::vector<p::RecordId> keep;
  for (const auto& id : index.records_by(old_key, t))
    if (!drop.count(id)) keep.push_back(id);
  std::sort(keep.begin(), keep.end());
  if (keep.size() > p::kMaxKeptRecords)
    return p::make_error(p::ErrorCode::limit, "the old key signed " + std::to_string(keep.size()) +
                                                  " records here, more than a revocation can list (" +
                                                  std::to_string(p::kMaxKeptRecords) + "); use --trust-earlier");
  return keep;
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
    with_node(ctx, [&](NodeContext& node) {
      // Both keys sign: the old one the record, the new one its consent,
      // over the same createdAt.
      auto t = now_ms();
      auto draft = p::key_rotation_draft(old_key->public_key(), *new_key, t);
      draft.revoke_old = a->revoke;
      draft.reason = a->reason;
      draft.keep_listed = a->revoke && !a->trust_earlier;
      if (draft.keep_listed) {
        auto keep = records_to_keep(*node.index, old_key->public_key(), t, a->drop);
        if (!keep) return report(keep.error());
        draft.keep = std::move(keep).value();
      }
      auto out = sign_and_ingest(*node.index, *old_key, draft, t);
      if (!out) return report(out.error());
      announce_to_node(node.options.data_dir, {out->id});
      const auto kept = draft.keep.size();
      if (a->json)
        print_json({{"recordId", p::to_hex(out->id)},
                    {"kind", "keyRotation"},
                    {"old", old_key->public_key().to_text()},
                    {"new", new_key->public_key().to_text()},
                    {"revoked", a->revoke},
                    {"kept", draft.keep_listed ? nlohmann::ordered_json(kept) : nlohmann::ordered_json(nullptr)}});
      else
        std::cout << "key rotation " << p::to_hex(out->id) << ": " << old_key->public_key().to_text() << " -> "
                  << new_key->public_key().to_text()
                  << (!a->revoke          ? ""
                      : draft.keep_listed ? " (old key revoked; its " + std::to_string(kept) +
                                                " records held here still count, nothing else it signed does)"
                                          : " (old key revoked; records it dated earlier still count)")
                  << "\n";
      return static_cast<int>(kOk);
    });
  });
}

// Parses each of `texts` with `parse` into an entry of `list`; the first
// that does not parse is an error naming `option` and `what` it should be.
template <class Parse>
p::Status add_deny_entries(p::DenyListDraft& list, p::DenyEntryDraft::Target target,
                           const std::vector<std::string>& texts, const std::string& reason, const char* option,
                           const char* what, Parse parse) {
  for (const auto& text : texts) {
    auto bytes = parse(text);
    if (!bytes)
      return p::make_error(p::ErrorCode::invalid_argument, std::string(option) + " " + text + " is not " + what);
    list.entries.push_back({target, *bytes, reason});
  }
  return {};
}

void add_deny_list(CLI::App& app, Context& ctx) {
  struct Args : SigningArgs {
    std::string name, reason;
    std::vector<std::string> releases, hashes, creators, levels;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "deny-list", "Publish (or replace) a deny-list signed by your curator key; nodes that follow you apply it");
  cmd->add_option("--name", a->name, "The list's name (a new list of the same name replaces it)")->required();
  cmd->add_option("--release", a->releases, "A release id to deny (repeatable)");
  cmd->add_option("--hash", a->hashes, "A file's SHA-256 to deny wherever it appears (repeatable)");
  cmd->add_option("--creator", a->creators, "A creator key (sbpk1...) to deny (repeatable)");
  cmd->add_option("--level", a->levels,
                  "Rate an image, wherever it appears, at this level at least: SHA256=LEVEL (PG, PG-13, R, X, "
                  "XXX; not a denial; repeatable)");
  cmd->add_option("--reason", a->reason, "Why (kept with every entry)");
  add_signing_options(cmd, *a, "Curator key (default <data dir>/identity.key)");
  cmd->callback([&ctx, a] {
    auto key = key_of(ctx, a->key);
    if (!key) return void(ctx.exit_code = report(key.error()));
    using Target = p::DenyEntryDraft::Target;
    p::DenyListDraft draft{a->name, {}};
    auto parsed =
        add_deny_entries(draft, Target::release, a->releases, a->reason, "--release", "a release id (64 hex digits)",
                         [](const std::string& r) { return p::from_hex_fixed<32>(r); });
    if (parsed)
      parsed = add_deny_entries(
          draft, Target::content_hash, a->hashes, a->reason, "--hash", "a SHA-256 (64 hex digits)",
          [](const std::string& h) { return p::from_hex_fixed<32>(h.rfind("sha256:", 0) == 0 ? h.substr(7) : h); });
    if (parsed)
      parsed = add_deny_entries(draft, Target::creator, a->creators, a->reason, "--creator", "a public key (sbpk1...)",
                                [](const std::string& c) {
                                  auto pk = p::PublicKey::from_text(c);
                                  return pk ? std::optional(pk->bytes) : std::nullopt;
                                });
    for (const auto& l : a->levels) {
      if (!parsed) break;
      auto eq = l.find('=');
      std::string hex = eq == std::string::npos ? std::string() : l.substr(0, eq);
      if (hex.rfind("sha256:", 0) == 0) hex.erase(0, 7);
      auto sha = p::from_hex_fixed<32>(hex);
      auto level = sha ? p::parse_nsfw_level(l.substr(eq + 1)) : std::nullopt;
      if (!level) {
        parsed = p::make_error(p::ErrorCode::invalid_argument,
                               "--level " + l + " is not SHA256=LEVEL (64 hex digits, then PG, PG-13, R, X or XXX)");
        break;
      }
      draft.entries.push_back({Target::nsfw_level, *sha, a->reason, *level});
    }
    if (!parsed) return void(ctx.exit_code = report(parsed.error()));
    with_node(ctx, [&](NodeContext& node) {
      return sign_and_store(node, *key, a->json, draft, {{"name", a->name}, {"entries", draft.entries.size()}});
    });
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
    if (*json) return print_json({{list, entries}});
    // Each entry with what it names, from the index: "model · version" of a
    // release, a creator's display name. Without the index, ids alone.
    auto node = open_node(ctx);
    for (const auto& v : entries) {
      std::string name;
      if (!node) {
      } else if (std::string(list) == "follows") {
        if (auto key = p::PublicKey::from_text(v)) name = display_name(*(*node)->index, *key);
      } else if (auto id = p::from_hex_fixed<32>(v)) {
        auto rec = (*node)->index->get(*id);
        if (rec && rec->kind() == p::RecordKind::release) {
          auto r = rec->body().getPayload().getRelease();
          name = std::string(r.getModelName().cStr()) + " · " + r.getVersionName().cStr();
        } else {
          name = "(not in this node's index)";
        }
      }
      // One line an entry, whatever a peer put in a name.
      std::replace_if(
          name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }, ' ');
      std::cout << v << (name.empty() ? "" : "  " + name) << "\n";
    }
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

p::Result<p::SecretKey> key_of(const Context& ctx, const std::string& key) {
  return p::load_secret_key(key.empty() ? default_key_path(ctx.global.resolved_data_dir())
                                        : std::filesystem::path(key));
}

int sign_and_store(NodeContext& node, const p::SecretKey& key, bool json, const p::CommunityDraft& draft,
                   nlohmann::ordered_json extra, std::uint64_t created_at_ms) {
  auto out = sign_and_ingest(*node.index, key, draft, created_at_ms);
  if (!out) return report(out.error());
  // A running node announces it now rather than at its next scan.
  announce_to_node(node.options.data_dir, {out->id});
  const std::string what(p::draft_kind(draft));
  if (json) {
    nlohmann::ordered_json j = {
        {"recordId", p::to_hex(out->id)}, {"kind", what}, {"author", key.public_key().to_text()}};
    if (out->status == indexer::IngestStatus::superseded) j["superseded"] = true;
    for (auto& [k, v] : extra.items()) j[k] = v;
    if (const auto* post = std::get_if<p::ImagePostDraft>(&draft)) {  // as the API names it
      j["postId"] = civitai_id(out->id);
      j["imageId"] = civitai_image_id(out->id, post->image.sha256);
    }
    print_json(j);
  } else {
    std::cout << what << " " << p::to_hex(out->id) << " signed by " << key.public_key().to_text()
              << (out->status == indexer::IngestStatus::superseded ? " (a newer one of yours already wins)" : "")
              << "\n";
  }
  return kOk;
}

void add_community_commands(CLI::App& app, Context& ctx) {
  add_local_list(app, ctx, "favorite", "favorites", "favourite releases");
  add_local_list(app, ctx, "follow", "follows", "followed creators");
  add_rate(app, ctx);
  add_react(app, ctx);
  add_comment(app, ctx);
  add_comments(app, ctx);
  add_retract(app, ctx);
  add_update(app, ctx);
  add_profile(app, ctx);
  add_post_image(app, ctx);
  add_rotate_key(app, ctx);
  add_deny_list(app, ctx);
}

}  // namespace seedbank::node::cli
