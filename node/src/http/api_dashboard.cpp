// GET /api/seedbank/dashboard: the creator dashboard of this node's key,
// for the You page. Its releases, each with its seeders, reactions,
// rating, comments and what this node's BitTorrent session holds of it,
// and the comments on them (and on their sample images) that await the
// creator's reply. Answered on the node's own machine only: what a node
// seeds is its own business.
#include "http/api_impl.h"

#include "community.h"
#include "node_services.h"

#include <algorithm>
#include <iterator>
#include <set>

#include "seedbank/protocol/keys.h"

namespace seedbank::node {

namespace {

constexpr std::size_t kMaxDashboardReleases = 500;
// Top-level comments looked at in all (pages of kCommentsPage, each page
// counting in full): a creator with many comments sees the newest ones as
// far as this allows, and "complete" says when it cut.
constexpr std::size_t kMaxCommentsLookedAt = 5000;
constexpr std::size_t kCommentsPage = 100;
constexpr std::size_t kMaxAwaitingListed = 50;
constexpr std::size_t kReplyPages = 4;  // of 50, beyond the replies a comment page carries
constexpr std::size_t kMaxPostsCounted = 200;
constexpr std::size_t kExcerptBytes = 500;

// `text` cut to at most `n` bytes, never inside a character.
std::string excerpt(std::string text, std::size_t n) {
  if (text.size() <= n) return text;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  text.resize(n);
  return text + "…";
}

}  // namespace

HttpResponse Api::Impl::dashboard(const HttpRequest& request) {
  if (auto r = foreign(request, "read this node's creator dashboard")) return *r;
  auto key = p::load_secret_key(data_dir / "identity.key");
  if (!key)
    return json_response(200,
                         json{{"identity", nullptr}, {"releases", json::array()}, {"awaitingReply", json::array()}});
  const p::PublicKey me = key->public_key();
  const p::PublicKey who = current_identity(index, me);
  auto is_me = [&](const p::PublicKey& author) { return current_identity(index, author) == who; };

  // The releases, newest first.
  std::vector<p::Record> releases;
  indexer::ReleaseQuery query;
  query.creator = me;
  query.limit = 100;
  for (bool more = true; more && releases.size() < kMaxDashboardReleases;) {
    auto page = index.query_releases(query);
    if (!page) return error_response(500, page.error().message);
    for (auto& rec : page->items)
      if (releases.size() < kMaxDashboardReleases) releases.push_back(std::move(rec));
    more = !page->next_cursor.empty();
    query.cursor = page->next_cursor;
  }

  struct Awaiting {
    std::uint64_t created_at;
    json item;
  };
  std::vector<Awaiting> awaiting;
  std::size_t looked_at = 0;
  bool complete = releases.size() < kMaxDashboardReleases;
  json items = json::array();
  std::uint64_t total_reactions = 0, total_comments = 0, total_awaiting = 0, seeded = 0;
  for (const auto& rec : releases) {
    const p::Record shown = index.shown(rec);
    auto r = shown.body().getPayload().getRelease();
    const auto version_id = civitai_id(rec.id());
    const auto model_id = civitai_model_id(rec.author(), r.getModelSlug().cStr());
    const auto social = index.social({rec.id(), std::nullopt, std::nullopt});
    std::uint64_t image_reactions = 0, comment_count = social.comments;
    // The release and each of its sample images (once per image, though a
    // release may list the same bytes under two names): those with
    // comments are read.
    std::vector<indexer::Subject> subjects;
    if (social.comments) subjects.push_back({rec.id(), std::nullopt, std::nullopt});
    std::set<p::Sha256Digest> images;
    for (auto img : r.getImages()) {
      if (img.getSha256().size() != 32 || !images.insert(digest_of(img.getSha256())).second) continue;
      indexer::Subject s{rec.id(), digest_of(img.getSha256()), std::nullopt};
      const auto counts = index.social(s);
      image_reactions += counts.reactions();
      comment_count += counts.comments;
      if (counts.comments) subjects.push_back(s);
    }
    // Comments by others with no reply from this creator.
    std::uint64_t waiting = 0;
    for (const auto& subject : subjects) {
      std::optional<indexer::FeedEntry> before;
      std::vector<CommentView> views;
      do {
        if (looked_at >= kMaxCommentsLookedAt) {
          complete = false;
          break;
        }
        looked_at += kCommentsPage;
        auto page = comment_page(index, config, subject, before, kCommentsPage);
        views.insert(views.end(), std::make_move_iterator(page.begin()), std::make_move_iterator(page.end()));
      } while (before);
      for (const auto& view : views) {
        if (view.deleted() || is_me(view.original.author())) continue;
        bool replied = std::any_of(view.replies.begin(), view.replies.end(),
                                   [&](const CommentView& reply) { return is_me(reply.original.author()); });
        if (!replied && view.more_replies) {
          std::optional<indexer::FeedEntry> after;
          std::size_t pages = 0;
          do {
            for (const auto& reply : replies_page(index, config, subject, view.original.id(), after, 50))
              replied = replied || is_me(reply.original.author());
          } while (!replied && after && ++pages < kReplyPages);
          if (!replied && after) complete = false;  // more replies than were read
        }
        if (replied) continue;
        ++waiting;
        const auto& text = view.shown().body().getPayload().getComment().getText();
        awaiting.push_back({view.original.created_at(),
                            json{{"id", p::to_hex(view.original.id())},
                                 {"creator", view.original.author().to_text()},
                                 {"username", username_of(index, view.original.author())},
                                 {"createdAt", iso8601(view.original.created_at())},
                                 {"text", excerpt(text.cStr(), kExcerptBytes)},
                                 {"releaseId", p::to_hex(rec.id())},
                                 {"modelId", model_id},
                                 {"modelVersionId", version_id},
                                 {"modelName", r.getModelName().cStr()},
                                 {"versionName", r.getVersionName().cStr()},
                                 {"image", subject.image ? json(p::to_hex(*subject.image)) : json(nullptr)}}});
      }
    }
    json here = nullptr;
    if (auto s = node ? node->seeding(rec.id()) : std::nullopt) {
      here = {{"state", s->state},          {"files", s->files},       {"stored", s->stored},
              {"allStored", s->all_stored}, {"uploaded", s->uploaded}, {"peers", s->peers}};
      if (s->all_stored) ++seeded;
    }
    const auto rating = rating_summary(index, rec.id()).aggregate;
    total_reactions += social.reactions() + image_reactions;
    total_comments += comment_count;
    total_awaiting += waiting;
    items.push_back({{"releaseId", p::to_hex(rec.id())},
                     {"modelId", model_id},
                     {"modelVersionId", version_id},
                     {"modelName", r.getModelName().cStr()},
                     {"versionName", r.getVersionName().cStr()},
                     {"createdAt", iso8601(rec.created_at())},
                     {"seeders", node ? node->seeder_count(digest_of(r.getTorrent().getInfoHashV2())) : 0},
                     {"thisNode", here},
                     {"stats",
                      {{"likeCount", social.like},
                       {"heartCount", social.heart},
                       {"laughCount", social.laugh},
                       {"cryCount", social.cry},
                       {"imageReactionCount", image_reactions},
                       {"commentCount", comment_count},
                       {"rating", rating.mean()},
                       {"ratingCount", rating.count},
                       {"postCount", index.posts_of(rec.id(), kMaxPostsCounted).size()}}},
                     {"awaitingReply", waiting}});
  }
  std::stable_sort(awaiting.begin(), awaiting.end(),
                   [](const Awaiting& a, const Awaiting& b) { return a.created_at > b.created_at; });
  json listed = json::array();
  for (std::size_t i = 0; i < awaiting.size() && i < kMaxAwaitingListed; ++i) listed.push_back(awaiting[i].item);
  return json_response(200, json{{"identity", me.to_text()},
                                 {"username", username_of(index, me)},
                                 {"releases", std::move(items)},
                                 {"awaitingReply", std::move(listed)},
                                 {"totals",
                                  {{"releases", releases.size()},
                                   {"seededHere", seeded},
                                   {"reactions", total_reactions},
                                   {"comments", total_comments},
                                   {"awaitingReply", total_awaiting}}},
                                 {"complete", complete}});
}

}  // namespace seedbank::node
