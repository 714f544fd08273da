#include "collections.h"

#include <algorithm>

#include "civitai.h"

namespace seedbank::node {

namespace p = seedbank::protocol;

namespace {

std::string describe(const indexer::Subject& s) {
  if (s.image) return "image " + p::to_hex(*s.image) + " of release " + p::to_hex(s.release);
  if (s.post) return "post " + p::to_hex(*s.post);
  return "release " + p::to_hex(s.release);
}

}  // namespace

p::Result<CollectionChange> collection_change(const indexer::Index& index, const NodeConfig& config,
                                              const p::PublicKey& author, const CollectionRequest& request) {
  if (!p::valid_collection_slug(request.slug))
    return p::make_error(p::ErrorCode::invalid_argument,
                         "'" + request.slug.substr(0, 100) +
                             "' is not a collection slug: give 1 to 64 characters of a-z, 0-9 and - (say, my-loras)");
  CollectionChange out;
  auto target = p::record_id_of(p::as_bytes(request.slug));
  std::optional<p::Record> current;
  if (auto id = index.current(p::RecordKind::collection, author, target))
    if (auto rec = index.get(*id); rec && rec->kind() == p::RecordKind::collection) current = std::move(*rec);
  const bool exists = current && !current->body().getPayload().getCollection().getDeleted();
  // A new collection never takes a slug that had one: its number (from the
  // slug) would lead old links to it.
  if (request.create && current)
    return p::make_error(p::ErrorCode::conflict,
                         "you have (or had) a collection '" + request.slug + "'; choose another slug for a new one");
  if (current) out.not_before_ms = current->created_at() + 1;
  auto& d = out.draft;
  if (exists) d = p::collection_draft_of(*current);
  d.slug = request.slug;
  if (request.deleted) {
    if (!exists)
      return p::make_error(p::ErrorCode::not_found, "you have no collection '" + request.slug + "' to delete");
    d = p::CollectionDraft{request.slug, "", "", {}, true};
    return out;
  }
  const p::CollectionDraft before = d;
  d.deleted = false;
  if (request.name) d.name = *request.name;
  if (request.description) d.description = *request.description;
  if (!exists && d.name.find_first_not_of(" \t\r\n") == std::string::npos)
    return p::make_error(p::ErrorCode::invalid_argument,
                         "you have no collection '" + request.slug + "' yet: give it a name to create it");
  // New items must be shown here; those already listed stay as they are.
  auto listed = [&](const std::vector<p::CollectionItemDraft>& items, const indexer::Subject& s) {
    return std::find_if(items.begin(), items.end(), [&](const auto& i) { return i.subject == s; }) != items.end();
  };
  auto check_new = [&](const p::CollectionItemDraft& item) -> p::Status {
    if (listed(before.items, item.subject)) return {};
    if (item.subject.image && item.subject.post)
      return p::make_error(p::ErrorCode::invalid_argument, "an item names either an image of a release or a post");
    if (auto why = config.refuses_subject(item.subject, index)) {
      auto is = [&](const p::RecordId& id, p::RecordKind kind) {
        auto rec = index.get(id);
        return rec && rec->kind() == kind;
      };
      const bool known = is(item.subject.release, p::RecordKind::release) &&
                         (!item.subject.post || is(*item.subject.post, p::RecordKind::image_post));
      return p::make_error(known ? p::ErrorCode::refused : p::ErrorCode::not_found,
                           describe(item.subject) + ": " + *why);
    }
    return {};
  };
  if (request.items) {
    std::vector<p::CollectionItemDraft> items;
    for (const auto& item : *request.items) {
      if (auto st = check_new(item); !st) return st.error();
      if (!listed(items, item.subject)) items.push_back(item);
    }
    d.items = std::move(items);
  }
  for (const auto& item : request.add) {
    if (auto st = check_new(item); !st) return st.error();
    auto at = std::find_if(d.items.begin(), d.items.end(), [&](const auto& i) { return i.subject == item.subject; });
    if (at == d.items.end())
      d.items.push_back(item);
    else if (!item.note.empty())
      at->note = item.note;
  }
  for (const auto& s : request.remove) {
    auto at = std::find_if(d.items.begin(), d.items.end(), [&](const auto& i) { return i.subject == s; });
    if (at == d.items.end())
      return p::make_error(p::ErrorCode::not_found,
                           "'" + request.slug + "' does not list " + describe(s) + "; nothing to remove");
    d.items.erase(at);
  }
  if (exists && d.name == before.name && d.description == before.description && d.items == before.items)
    return p::make_error(p::ErrorCode::invalid_argument,
                         "that changes nothing in '" + request.slug + "'; say what to add, remove or rename");
  if (auto st = p::check_draft(p::CommunityDraft(d)); !st) return st.error();
  return out;
}

std::optional<std::string> refuses_collection(const indexer::Index& index, const NodeConfig& config,
                                              const p::Record& collection) {
  if (collection.kind() != p::RecordKind::collection) return std::string("not a collection");
  auto c = collection.body().getPayload().getCollection();
  if (c.getDeleted()) return std::string("its author deleted it");
  auto current = index.current(p::RecordKind::collection, collection.author(),
                               p::record_id_of(p::as_bytes(std::string_view(c.getSlug().cStr(), c.getSlug().size()))));
  if (current != collection.id()) return std::string("its author replaced it with a newer version");
  if (index.voided(collection)) return std::string("signed by a key its owner revoked, and not vouched for");
  // A deny-list names a collection by its record id, or by its key (the
  // same for every version of it), as a contentHash entry; or its author.
  const auto key =
      indexer::collection_key(collection.author(), std::string_view(c.getSlug().cStr(), c.getSlug().size()));
  if (index.is_denied(collection.id(), config.deny_curators, collection.author()) ||
      index.is_denied(key, config.deny_curators))
    return std::string("denied by a deny-list this node follows");
  return std::nullopt;
}

std::size_t for_each_shown_item(const indexer::Index& index, const NodeConfig& config, const p::Record& collection,
                                std::size_t limit, const std::function<bool(const ShownItem&)>& visit) {
  std::size_t shown = 0;
  if (collection.kind() != p::RecordKind::collection) return shown;
  auto items = collection.body().getPayload().getCollection().getItems();
  for (unsigned i = 0; i < items.size() && i < limit; ++i) {
    p::CollectionItemDraft listed{p::read_subject(items[i].getSubject()), items[i].getNote().cStr()};
    if (config.refuses_subject(listed.subject, index)) continue;
    auto release = index.get(listed.subject.release);
    if (!release) continue;
    ShownItem item{std::move(listed), index.shown(*release), std::nullopt, std::nullopt};
    const auto& s = item.item.subject;
    if (s.image) {
      auto images = item.release.body().getPayload().getRelease().getImages();
      for (unsigned k = 0; k < images.size() && !item.image; ++k)
        if (images[k].getSha256().size() == 32 && digest_of(images[k].getSha256()) == *s.image) item.image = k;
      if (!item.image) continue;  // its author's update no longer shows it
    } else if (s.post) {
      auto post = index.get(*s.post);
      if (!post) continue;
      item.post = std::move(*post);
    }
    ++shown;
    if (!visit(item)) break;
  }
  return shown;
}

std::uint64_t collection_number(const p::Record& collection) {
  auto slug = collection.body().getPayload().getCollection().getSlug();
  return indexer::numeric_id(indexer::collection_key(collection.author(), std::string_view(slug.cStr(), slug.size())));
}

}  // namespace seedbank::node
