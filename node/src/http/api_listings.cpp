#include "http/api_impl.h"

#include "node_services.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "seedbank/protocol/image_meta.h"
#include "seedbank/protocol/util.h"

namespace seedbank::node {

// ---- images, tags, creators, reviews ----

namespace {

// An image's stats as Civitai names them.
json image_stats(const indexer::SocialCounts& c) {
  return {{"cryCount", c.cry},     {"laughCount", c.laugh},      {"likeCount", c.like},
          {"heartCount", c.heart}, {"commentCount", c.comments}, {"dislikeCount", 0}};
}

}  // namespace

// The most images a ranked page of one version or model, or of a window of
// the feed (a period, a poster), ranks.
constexpr std::size_t kRankWindow = 5000;

HttpResponse Api::Impl::list_images(const HttpRequest& request, const HttpTarget& t) {
  auto limit = p::integer_param(t, "limit", 0, 200);
  if (!limit) return error_response(400, limit.error().message);
  const std::size_t page_size = *limit && **limit ? **limit : kDefaultLimit;
  std::size_t want = page_size;
  // sort: Newest (the feed's order), or Most Reactions / Most Comments: the
  // images with the most first, then those with none, newest first. Other
  // names Civitai has (Oldest, Random) are served newest first; Most
  // Collected as Most Reactions (collections are this node's own).
  std::optional<bool> by_comments;  // set: ranked (true: by comments)
  if (auto v = t.get("sort"); v && (*v == "Most Reactions" || *v == "Most Collected"))
    by_comments = false;
  else if (v && *v == "Most Comments")
    by_comments = true;
  // Which levels to list, as Civitai reads them: browsingLevel (a mask of
  // 1 PG, 2 PG-13, 4 R, 8 X, 16 XXX) wins over nsfw, which is a level name
  // (None, Soft, Mature, X: that level and those below) or a boolean (true:
  // all, false: PG only). Neither: all that this node shows.
  std::uint8_t levels = p::kAllNsfwLevels;
  if (auto v = t.get("browsingLevel"); v && !v->empty()) {
    auto n = parse_number(*v);
    if (!n || *n == 0 || *n > p::kAllNsfwLevels)
      return error_response(400, "browsingLevel '" + v->substr(0, 100) +
                                     "' is not a mask of levels (1 PG, 2 PG-13, 4 R, 8 X, 16 XXX; 1 to 31)");
    levels = static_cast<std::uint8_t>(*n);
  } else if (auto v = t.get("nsfw"); v && !v->empty()) {
    std::string l;
    for (char c : *v) l.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    if (l == "none" || l == "false" || l == "0")
      levels = p::kPG;
    else if (l == "soft")
      levels = p::kPG | p::kPG13;
    else if (l == "mature")
      levels = p::kPG | p::kPG13 | p::kR;
    else if (l == "x" || l == "true" || l == "1")
      levels = p::kAllNsfwLevels;
    else
      return error_response(400, "nsfw '" + v->substr(0, 100) + "' is not None, Soft, Mature, X, true or false");
  }
  if (auto type = t.get("type"); type && *type != "image" && *type != "video" && *type != "audio")
    return error_response(400, "type '" + type->substr(0, 100) + "' is not image, video or audio");
  // type: image (stills) or video; none: both. Nothing here is audio.
  const std::string media(t.get("type").value_or(""));
  const bool images_wanted = media != "audio";
  // period: only images made (their record signed) in the last day, week,
  // month or year.
  std::uint64_t since_ms = 0;
  if (auto v = t.get("period"); v && !v->empty() && *v != "AllTime") {
    const std::uint64_t day = 86400000ull;
    std::uint64_t span = *v == "Day"     ? day
                         : *v == "Week"  ? 7 * day
                         : *v == "Month" ? 30 * day
                         : *v == "Year"  ? 365 * day
                                         : 0;
    if (!span)
      return error_response(400, "period '" + v->substr(0, 100) + "' is not AllTime, Year, Month, Week or Day");
    auto now = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
    since_ms = now > span ? now - span : 0;
  }
  // Cursor: "<feed position>.<images of that record to skip>" (the position
  // is empty for one version or model). Ranked, the feed's cursor is
  // "m<rank position>" among the images with reactions (or comments), then
  // "z<feed position>.<skip>" among those without.
  std::uint64_t skip = 0;
  std::string release_cursor;
  std::optional<p::Bytes> rank_from;
  bool ranked_done = false;  // ranked: at the images without any
  std::string cursor_text(t.get("cursor").value_or(""));
  std::optional<std::size_t> window_from;  // ranked within a window of the feed: "w<offset>"
  if (by_comments && !cursor_text.empty()) {
    if (cursor_text[0] == 'w') {
      auto n = parse_number(std::string_view(cursor_text).substr(1));
      if (!n) return error_response(400, "cursor '" + cursor_text.substr(0, 100) + "' is not one this node returned");
      window_from = static_cast<std::size_t>(std::min<std::uint64_t>(*n, kRankWindow));
      cursor_text.clear();
    } else if (cursor_text[0] == 'm') {
      rank_from = p::from_hex(cursor_text.substr(1));
      if (!rank_from || rank_from->empty())
        return error_response(400, "cursor '" + cursor_text.substr(0, 100) + "' is not one this node returned");
      cursor_text.clear();
    } else if (cursor_text[0] == 'z') {
      ranked_done = true;
      cursor_text.erase(0, 1);
    }
  }
  if (const auto* c = &cursor_text; !c->empty()) {
    auto dot = c->rfind('.');
    auto n = dot == std::string::npos ? std::nullopt : parse_number(std::string_view(*c).substr(dot + 1));
    if (!n) return error_response(400, "cursor '" + c->substr(0, 100) + "' is not one this node returned");
    skip = *n;
    release_cursor = c->substr(0, dot);
  }
  // The releases whose images are listed.
  std::vector<p::Record> releases;
  bool whole_list = false;            // the image feed, page by page
  std::vector<p::PublicKey> authors;  // username: the feed of these keys
  // One image or one post: its id says where to look (see id_prefix below).
  std::optional<std::uint64_t> only_image, only_post;
  std::optional<p::Record> collection;  // collectionId: its images, in its order
  if (auto v = t.get("imageId")) {
    only_image = parse_number(*v);
    if (!only_image) return error_response(400, "imageId '" + v->substr(0, 100) + "' is not a number");
  } else if (auto v = t.get("postId")) {
    only_post = parse_number(*v);
    if (!only_post) return error_response(400, "postId '" + v->substr(0, 100) + "' is not a number");
  } else if (auto v = t.get("collectionId")) {
    auto rec = collection_by_id(std::string(*v));
    if (auto* r = std::get_if<HttpResponse>(&rec)) return *r;
    collection = std::move(std::get<p::Record>(rec));
  } else if (auto v = t.get("modelVersionId")) {
    auto n = parse_number(*v);
    if (!n) return error_response(400, "modelVersionId '" + v->substr(0, 100) + "' is not a number");
    if (auto rec = listed_release(*n)) releases.push_back(std::move(*rec));
  } else if (auto v = t.get("modelId")) {
    auto n = parse_number(*v);
    if (!n) return error_response(400, "modelId '" + v->substr(0, 100) + "' is not a number");
    auto key = index.model_by_number(*n);
    if (auto m = key ? index.model(*key) : std::nullopt)
      for (const auto& id : m->versions)
        if (auto rec = index.get(id); rec && !config.refuses(*rec, index)) releases.push_back(std::move(*rec));
  } else {
    // Whom this node's user follows: their images. Follows are private, so
    // only the node's own machine may ask.
    // Each page walks every followed key's part of the feed: at most the
    // first kMaxFollowed keys.
    constexpr std::size_t kMaxFollowed = 200;
    auto followed = t.get("followed");
    if (followed && *followed != "true" && *followed != "false")
      return error_response(400, "followed '" + followed->substr(0, 100) + "' is not true or false");
    if (followed == "true") {
      if (auto r = foreign(request, "list the images of the creators this node's user follows")) return *r;
      std::lock_guard lock(local_mutex);
      auto lists = read_local_lists(local_lists_path(data_dir));
      if (!lists) return error_response(500, lists.error().message);
      for (const auto& k : lists->follows)
        if (auto key = p::PublicKey::from_text(k); key && authors.size() < kMaxFollowed) authors.push_back(*key);
      if (authors.empty()) return json_response(200, json{{"items", json::array()}, {"metadata", json::object()}});
    } else if (auto v = t.get("username"); v && !v->empty()) {
      // A poster's images: their releases' sample images and their posts.
      if (auto key = p::PublicKey::from_text(*v))
        authors.push_back(*key);
      else if (authors = index.keys_named(*v); authors.empty())
        return json_response(200, json{{"items", json::array()}, {"metadata", json::object()}});
    }
    whole_list = true;
  }
  auto links = links_for(request);
  json items = json::array();
  std::uint64_t position = 0;
  // One image: of a release (`by` is the release) or of a user's post
  // about it (`by` is the post).
  auto emit_image = [&](const p::Record& by, sc::SampleImage::Reader img, const p::Record& release,
                        std::optional<std::uint64_t> post_id) {
    if (items.size() >= want || !images_wanted) return;
    if (position++ < skip) return;
    const bool video = p::is_video_type(img.getMimeType().cStr());
    if (!media.empty() && (media == "video") != video) return;
    auto r = release.body().getPayload().getRelease();
    auto level = config.image_level(img, r, index);  // a post about a release marked NSFW is R at least too
    if (!(level & levels) || (level >= p::kR && !config.nsfw)) return;
    if (by.created_at() < since_ms) return;
    const auto image_id = civitai_image_id(by.id(), digest_of(img.getSha256()));
    if (only_image && image_id != *only_image) return;
    std::string sha = p::to_hex(p::ByteView(img.getSha256().begin(), img.getSha256().size()));
    // What reactions and comments on this image name.
    indexer::Subject subject{release.id(), std::nullopt, std::nullopt};
    if (post_id)
      subject.post = by.id();
    else
      subject.image = digest_of(img.getSha256());
    auto counts = index.social(subject);
    // Ranked, after the images with reactions (or comments): those without.
    if (ranked_done && (*by_comments ? counts.comments : counts.reactions()) > 0) return;
    auto meta = nlohmann::ordered_json::parse([&] {
      JsonOut m;
      write_generation_meta(m, p::read_generation(img.getGeneration()));
      return m.take();
    }());
    items.push_back({{"id", image_id},
                     {"url", links.base_url + "/api/images/" + sha},
                     {"hash", sha},
                     {"width", img.getWidth()},
                     {"height", img.getHeight()},
                     {"type", video ? "video" : "image"},
                     {"nsfw", level > p::kPG},
                     {"nsfwLevel", std::string(p::civitai_nsfw_name(level))},
                     {"browsingLevel", level},
                     {"createdAt", iso8601(by.created_at())},
                     {"postId", post_id ? json(*post_id) : json(nullptr)},
                     {"caption", post_id && by.kind() == p::RecordKind::image_post
                                     ? json(by.body().getPayload().getImagePost().getCaption().cStr())
                                     : json(nullptr)},
                     {"stats", image_stats(counts)},
                     {"meta", meta.empty() ? json(nullptr) : json(meta)},
                     {"username", username_of(index, by.author())},
                     {"baseModel", r.getBaseModel().cStr()},
                     {"modelId", civitai_model_id(release.author(), r.getModelSlug().cStr())},
                     {"modelVersionId", civitai_id(release.id())},
                     {"modelVersionIds", json::array({civitai_id(release.id())})},
                     {"seedbank",
                      {{"releaseId", p::to_hex(release.id())},
                       {"name", img.getName().cStr()},
                       {"sha256", sha},
                       {"post", post_id ? json(p::to_hex(by.id())) : json(nullptr)}}}});
  };
  // A release's sample images as its author's update shows them.
  auto emit = [&](const p::Record& rec) {
    auto updated = index.updated(rec);
    const p::Record& shown = updated ? updated->shown : rec;
    for (auto img : shown.body().getPayload().getRelease().getImages()) emit_image(rec, img, shown, std::nullopt);
  };
  // A user's post about `release`. Its image travels over gossip: one not
  // here yet is fetched, and answers 503 until it arrives.
  auto emit_post = [&](const p::Record& post, const p::Record& release) {
    if (post.kind() != p::RecordKind::image_post || index.voided(post)) return;
    auto img = post.body().getPayload().getImagePost().getImage();
    if (img.getSha256().size() != 32) return;
    auto sha = digest_of(img.getSha256());
    // The node's policy applies to posts as to releases.
    if (config.refuses_image(post, sha, index)) return;
    if (!store.contains(sha)) {
      if (!node || !node->has_gossip()) return;
      fetch_post_image(request, post, sha);
    }
    emit_image(post, img, release, civitai_id(post.id()));
  };
  auto emit_posts = [&](const p::Record& release) {
    auto shown = index.shown(release);
    for (const auto& id : index.posts_of(release.id(), 200))
      if (auto post = index.get(id)) emit_post(*post, shown);
  };
  // A post that an id names, about the release it names.
  auto emit_post_of_id = [&](const p::Record& post) {
    auto release = index.get(digest_of(post.body().getPayload().getImagePost().getRelease()));
    if (release && release->kind() == p::RecordKind::release) emit_post(post, index.shown(*release));
  };
  // A post id names its record's first 53 bits, and an image id its
  // record's first 24 (civitai_image_id): the records with that prefix,
  // checked in full.
  auto id_prefix = [](std::uint64_t id) {
    p::Bytes prefix(6);
    for (int i = 5; i >= 0; --i, id >>= 8) prefix[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(id);
    return prefix;
  };
  if (only_image) {
    // 2^24 prefixes: about 600 records share one at 10^10 records.
    constexpr std::size_t kMaxSharingPrefix = 4096;
    for (const auto& id : index.ids_with_prefix(civitai_image_record_prefix(*only_image), kMaxSharingPrefix)) {
      auto rec = index.get(id);
      if (!rec) continue;
      if (rec->kind() == p::RecordKind::release) {
        if (!config.refuses(*rec, index)) emit(*rec);
      } else if (rec->kind() == p::RecordKind::image_post) {
        // Only the post the id names is fetched from peers.
        auto img = rec->body().getPayload().getImagePost().getImage();
        if (img.getSha256().size() == 32 && civitai_image_id(rec->id(), digest_of(img.getSha256())) == *only_image)
          emit_post_of_id(*rec);
      }
    }
    return json_response(200, json{{"items", items}, {"metadata", json::object()}});
  }
  if (only_post) {
    for (const auto& id : index.ids_with_prefix(id_prefix(*only_post >> 5), 16)) {
      if (civitai_id(id) != *only_post) continue;
      if (auto post = index.get(id); post && post->kind() == p::RecordKind::image_post) emit_post_of_id(*post);
    }
    return json_response(200, json{{"items", items}, {"metadata", json::object()}});
  }
  // Ranked without the index's ranking: the images of `records` (a
  // release's sample images as shown, a post's image), at most kRankWindow
  // of them, scored, most first (ties keep the records' order), and one
  // page from `from`. Only the page's items are built. Returns how many
  // were ranked.
  auto rank_window = [&](const std::vector<p::Record>& records, std::size_t from) {
    struct Candidate {
      std::size_t record;
      int image;  // a release's shown image; -1: the post's
      std::uint64_t score;
    };
    auto score_of = [&](const indexer::Subject& s) -> std::uint64_t {
      auto c = index.social(s);
      return *by_comments ? c.comments : c.reactions();
    };
    std::vector<std::optional<indexer::UpdatedRelease>> updates(records.size());
    std::vector<Candidate> all;
    for (std::size_t i = 0; i < records.size() && all.size() < kRankWindow; ++i) {
      const auto& rec = records[i];
      if (rec.kind() == p::RecordKind::release) {
        updates[i] = index.updated(rec);
        auto imgs = (updates[i] ? updates[i]->shown : rec).body().getPayload().getRelease().getImages();
        for (unsigned k = 0; k < imgs.size(); ++k)
          if (imgs[k].getSha256().size() == 32)
            all.push_back({i, static_cast<int>(k), score_of({rec.id(), digest_of(imgs[k].getSha256()), std::nullopt})});
      } else if (rec.kind() == p::RecordKind::image_post) {
        auto named = rec.body().getPayload().getImagePost().getRelease();
        if (named.size() == 32) all.push_back({i, -1, score_of({digest_of(named), std::nullopt, rec.id()})});
      }
    }
    std::stable_sort(all.begin(), all.end(), [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
    skip = 0;
    want = page_size;
    for (std::size_t n = from; n < all.size() && items.size() < page_size; ++n) {
      const auto& c = all[n];
      const auto& rec = records[c.record];
      position = 0;
      if (c.image >= 0) {
        if (config.refuses(rec, index)) continue;
        const p::Record& shown = updates[c.record] ? updates[c.record]->shown : rec;
        emit_image(rec, shown.body().getPayload().getRelease().getImages()[static_cast<unsigned>(c.image)], shown,
                   std::nullopt);
      } else if (auto release = index.get(digest_of(rec.body().getPayload().getImagePost().getRelease()));
                 release && release->kind() == p::RecordKind::release) {
        emit_post(rec, index.shown(*release));
      }
    }
    return all.size();
  };
  std::string next_cursor;
  if (collection) {
    for_each_shown_item(index, config, *collection, kMaxShownItems, [&](const ShownItem& item) {
      if (!item.is_image()) return true;
      if (position < skip) {  // before the cursor: not even its image is fetched
        ++position;
        return true;
      }
      const auto before = position;
      if (item.post)
        emit_post(*item.post, item.release);
      else
        emit_image(item.release, item.release.body().getPayload().getRelease().getImages()[*item.image], item.release,
                   std::nullopt);
      if (position == before) ++position;  // one not emitted (its image not here) still counts, as before the cursor
      return items.size() < want;
    });
    if (items.size() == want) next_cursor = "." + std::to_string(position);
  } else if (!whole_list && by_comments) {
    // One version's or model's images, ranked: its sample images and the
    // posts about it (at most 200 a version).
    const std::size_t from = static_cast<std::size_t>(std::min<std::uint64_t>(skip, kRankWindow));
    std::vector<p::Record> records;
    for (auto& rec : releases) {
      auto id = rec.id();
      records.push_back(std::move(rec));
      for (const auto& post : index.posts_of(id, 200))
        if (auto r = index.get(post)) records.push_back(std::move(*r));
    }
    if (from + page_size < rank_window(records, from)) next_cursor = "." + std::to_string(from + page_size);
  } else if (whole_list && images_wanted && by_comments && (window_from || since_ms || !authors.empty())) {
    // With a period or a poster, the index's ranking (of all time, every
    // poster) would be walked for a few: the newest images that match
    // (records up to kRankWindow images) are ranked instead.
    std::vector<p::Record> records;
    std::size_t images = 0;
    std::optional<indexer::FeedEntry> last;
    for (bool more = true; more && images < kRankWindow;) {
      auto batch = index.image_feed(last, since_ms, authors, 256);
      more = batch.size() == 256;
      for (const auto& entry : batch) {
        if (last && entry == *last) continue;
        last = entry;
        auto rec = index.get(entry.id);
        if (!rec) continue;
        if (rec->kind() == p::RecordKind::release) {
          if (config.refuses(*rec, index)) continue;
          images += rec->body().getPayload().getRelease().getImages().size();
        } else {
          ++images;
        }
        records.push_back(std::move(*rec));
      }
    }
    const std::size_t from = window_from.value_or(0);
    if (from + page_size < rank_window(records, from)) next_cursor = "w" + std::to_string(from + page_size);
  } else if (!whole_list) {
    for (const auto& rec : releases) emit(rec);
    for (const auto& rec : releases) emit_posts(rec);
    if (items.size() == want) next_cursor = "." + std::to_string(position);
  } else if (images_wanted) {
    if (by_comments && !ranked_done) {
      // The images with the most reactions (or comments) first, from the
      // index's ranking, with the feed's filters; a page looks at no more
      // than kMaxScan of them, then the cursor goes on.
      constexpr std::size_t kBatch = 64, kMaxScan = 2000;
      std::size_t scanned = 0;
      bool at_end = false;
      auto shown_by = [&](const p::PublicKey& author) {
        return authors.empty() || std::find(authors.begin(), authors.end(), author) != authors.end();
      };
      while (items.size() < want && !at_end && scanned < kMaxScan) {
        auto batch = index.most_social(*by_comments, rank_from, kBatch);
        at_end = batch.size() < kBatch;
        for (const auto& ranked : batch) {
          if (items.size() >= want) break;
          rank_from = ranked.position;
          ++scanned;
          position = 0;
          skip = 0;
          const auto& subject = ranked.subject;
          if (subject.image) {
            auto release = index.get(subject.release);
            if (!release || release->kind() != p::RecordKind::release || !shown_by(release->author()) ||
                config.refuses(*release, index))
              continue;
            auto shown = index.shown(*release);
            for (auto img : shown.body().getPayload().getRelease().getImages())
              if (digest_of(img.getSha256()) == *subject.image) {
                emit_image(*release, img, shown, std::nullopt);
                break;
              }
          } else if (subject.post) {
            auto post = index.get(*subject.post);
            if (!post || post->kind() != p::RecordKind::image_post || !shown_by(post->author())) continue;
            auto named = post->body().getPayload().getImagePost().getRelease();
            if (named.size() != 32 || digest_of(named) != subject.release) continue;
            if (auto release = index.get(subject.release); release && release->kind() == p::RecordKind::release)
              emit_post(*post, index.shown(*release));
          }
        }
      }
      if (rank_from && (items.size() >= want || !at_end)) {
        next_cursor = "m" + p::to_hex(*rank_from);
      } else {
        // Then the images without any, newest first.
        ranked_done = true;
        release_cursor.clear();
        skip = 0;
      }
    }
    if (!by_comments || (ranked_done && next_cursor.empty())) {
      // The image feed, newest first: releases' sample images and users'
      // posts. The cursor names the record the next image is in and how many
      // of its images came before, so no record is walked twice.
      std::optional<indexer::FeedEntry> from;
      if (!release_cursor.empty()) {
        auto bytes = p::from_hex(release_cursor);
        if (!bytes || bytes->size() != 40)
          return error_response(400, "cursor '" + release_cursor.substr(0, 100) + "' is not one this node returned");
        std::uint64_t created = 0;
        for (std::size_t i = 0; i < 8; ++i) created = (created << 8) | (*bytes)[i];
        from = indexer::FeedEntry{created, digest_of(p::util::as_data(p::ByteView(*bytes).subspan(8)))};
      }
      constexpr std::size_t kBatch = 64;
      constexpr std::size_t kMaxScan = 2000;  // records one page may look at; then the cursor goes on
      std::size_t scanned = 0;
      std::optional<indexer::FeedEntry> last;
      bool at_end = false;
      while (items.size() < want && !at_end && scanned < kMaxScan) {
        auto batch = index.image_feed(last ? last : from, since_ms, authors, kBatch);
        at_end = batch.size() < kBatch;
        for (const auto& entry : batch) {
          if (last && entry == *last) continue;  // where the previous batch ended
          if (items.size() >= want) break;
          if (!(from && entry == *from)) skip = 0;  // the cursor's skip is for its own record
          position = 0;
          last = entry;
          ++scanned;
          auto rec = index.get(entry.id);
          if (!rec) continue;
          if (rec->kind() == p::RecordKind::release) {
            if (!config.refuses(*rec, index)) emit(*rec);
          } else if (rec->kind() == p::RecordKind::image_post) {
            auto post = rec->body().getPayload().getImagePost();
            if (post.getRelease().size() == 32)
              if (auto release = index.get(digest_of(post.getRelease())))
                if (release->kind() == p::RecordKind::release) emit_post(*rec, index.shown(*release));
          }
        }
      }
      if (last && (items.size() >= want || (!at_end && scanned >= kMaxScan))) {
        p::Bytes key(8);
        for (std::size_t i = 0; i < 8; ++i) key[i] = static_cast<std::uint8_t>(last->created_at >> (56 - 8 * i));
        key.insert(key.end(), last->id.begin(), last->id.end());
        next_cursor = (ranked_done ? "z" : "") + p::to_hex(key) + "." + std::to_string(std::max(position, skip));
      }
    }
  }
  json metadata = json::object();
  if (!next_cursor.empty()) {
    metadata["nextCursor"] = next_cursor;
    std::string next = links.base_url + "/api/v1/images?";
    for (const auto& [k, v] : t.params)
      if (k != "cursor") next += p::percent_encode(k) + "=" + p::percent_encode(v) + "&";
    metadata["nextPage"] = next + "cursor=" + p::percent_encode(next_cursor);
  }
  return json_response(200, json{{"items", items}, {"metadata", metadata}});
}

HttpResponse Api::Impl::list_tags(const HttpRequest& request, const HttpTarget& t) {
  auto limit = p::integer_param(t, "limit", 0, 200);
  if (!limit) return error_response(400, limit.error().message);
  const std::size_t want = *limit && **limit ? **limit : 20;
  auto page_number = p::integer_param(t, "page", 1, 1000000);
  if (!page_number) return error_response(400, page_number.error().message);
  std::string prefix = t.get("query").value_or("").substr(0, 200);
  std::string after = t.get("cursor").value_or("");
  auto base_url = base_for(request);
  auto item_of = [&](const indexer::TagCount& tag) {
    return json{{"name", tag.name},
                {"modelCount", tag.models},
                {"link", base_url + "/api/v1/models?tag=" + p::percent_encode(tag.name)}};
  };
  // sort=Most Models: the most used tags, one page (a tag index).
  if (auto sort = t.get("sort"); sort && !sort->empty()) {
    if (*sort != "Most Models" && *sort != "Name")
      return error_response(400, "sort '" + sort->substr(0, 100) + "' is not Name or Most Models");
    if (*sort == "Most Models") {
      if (!after.empty() || page_number->value_or(1) > 1)
        return error_response(400, "sort=Most Models is one page: the most used tags, up to limit (200)");
      json items = json::array();
      for (const auto& tag : index.top_tags(want)) items.push_back(item_of(tag));
      return json_response(200, json{{"items", items}, {"metadata", {{"pageSize", want}}}});
    }
  }
  std::uint64_t page = page_number->value_or(1);
  if (!after.empty()) page = 1;
  if ((page - 1) * want > kMaxPageWalk) return error_response(400, "page: too far; use cursor (metadata.nextCursor)");
  std::vector<indexer::TagCount> tags;
  for (std::uint64_t i = 0; i < page; ++i) {
    tags = index.tags(prefix, after, want);
    if (tags.size() < want) {
      if (i + 1 < page) tags.clear();
      break;
    }
    if (i + 1 < page) after = tags.back().name;
  }
  const auto& base = base_url;
  json items = json::array();
  for (const auto& tag : tags) items.push_back(item_of(tag));
  json metadata = {{"currentPage", page}, {"pageSize", want}};
  if (tags.size() == want) {
    metadata["nextCursor"] = tags.back().name;
    metadata["nextPage"] = base + "/api/v1/tags?limit=" + std::to_string(want) +
                           (prefix.empty() ? "" : "&query=" + p::percent_encode(prefix)) +
                           "&cursor=" + p::percent_encode(tags.back().name);
  }
  return json_response(200, json{{"items", items}, {"metadata", metadata}});
}

HttpResponse Api::Impl::list_creators(const HttpRequest& request, const HttpTarget& t) {
  auto limit = p::integer_param(t, "limit", 0, 200);
  if (!limit) return error_response(400, limit.error().message);
  const std::size_t want = *limit && **limit ? **limit : 20;
  auto links = links_for(request);
  std::vector<p::PublicKey> keys;
  std::string next_cursor;
  if (auto query = t.get("query"); query && !query->empty()) {
    if (auto key = p::PublicKey::from_text(*query)) keys.push_back(*key);
    for (const auto& k : index.keys_named(*query, true, want))
      if (std::find(keys.begin(), keys.end(), k) == keys.end() && keys.size() < want) keys.push_back(k);
  } else {
    std::optional<p::PublicKey> after;
    if (auto c = t.get("cursor"); c && !c->empty()) {
      after = p::PublicKey::from_text(*c);
      if (!after) return error_response(400, "cursor '" + c->substr(0, 100) + "' is not one this node returned");
    }
    auto page_number = p::integer_param(t, "page", 1, 1000000);
    if (!page_number) return error_response(400, page_number.error().message);
    std::uint64_t page = after ? 1 : page_number->value_or(1);
    if ((page - 1) * want > kMaxPageWalk) return error_response(400, "page: too far; use cursor (metadata.nextCursor)");
    std::vector<indexer::CreatorCount> found;
    for (std::uint64_t i = 0; i < page; ++i) {
      found = index.creators(after, want);
      if (found.size() < want) {
        if (i + 1 < page) found.clear();
        break;
      }
      after = found.back().key;
    }
    for (const auto& c : found) keys.push_back(c.key);
    if (found.size() == want) next_cursor = found.back().key.to_text();
  }
  JsonOut out;
  out.begin_object().key("items").begin_array();
  for (const auto& key : keys) write_creator(out, key, index, links, index.model_count(key));
  out.end_array();
  json metadata = {{"pageSize", want}};
  if (!next_cursor.empty()) {
    metadata["nextCursor"] = next_cursor;
    metadata["nextPage"] = links.base_url + "/api/v1/creators?limit=" + std::to_string(want) + "&cursor=" + next_cursor;
  }
  out.key("metadata").raw(metadata.dump()).end_object();
  return text_json(200, out.take());
}

HttpResponse Api::Impl::reviews(const HttpRequest&, const HttpTarget& t) {
  auto v = t.get("modelVersionId");
  auto n = v ? parse_number(*v) : std::nullopt;
  if (!n) return error_response(400, "modelVersionId: give a model version id");
  auto rec = listed_release(*n);
  if (!rec) return error_response(404, "No model version with id " + std::to_string(*n));
  json items = json::array();
  for (const auto& id : index.ratings_of(rec->id(), 500)) {
    auto rating = index.get(id);
    if (!rating || rating->kind() != p::RecordKind::rating) continue;
    auto r = rating->body().getPayload().getRating();
    items.push_back({{"username", username_of(index, rating->author())},
                     {"creator", rating->author().to_text()},
                     {"stars", r.getStars()},
                     {"review", r.getReview().cStr()},
                     {"createdAt", iso8601(rating->created_at())}});
  }
  auto agg = index.rating(rec->id());
  return json_response(200, json{{"items", items}, {"ratingCount", agg.count}, {"rating", agg.mean()}});
}

}  // namespace seedbank::node
