#include "http/api_impl.h"

#include "node_services.h"

namespace seedbank::node {

// ---- reactions and comments ----
//
// A subject is named in a query or a JSON body by "releaseId" (hex) or
// "modelVersionId" (number), plus "image" (a sample image's SHA-256) or
// "post" (an image post's record id) for an image.

namespace {

// Fields as text, from a query or a JSON body (Api::Impl::FieldReader).
using FieldReader = std::function<std::optional<std::string>(const char*)>;

FieldReader query_fields(const HttpTarget& t) {
  return [&t](const char* name) -> std::optional<std::string> {
    auto v = t.get(name);
    if (!v || v->empty()) return std::nullopt;
    return std::string(*v);
  };
}

FieldReader body_fields(const json& body) {
  return [&body](const char* name) -> std::optional<std::string> {
    if (!body.contains(name)) return std::nullopt;
    const auto& v = body[name];
    if (v.is_string() && !v.get_ref<const std::string&>().empty()) return v.get<std::string>();
    if (v.is_number_unsigned()) return std::to_string(v.get<std::uint64_t>());
    return std::nullopt;
  };
}

std::optional<p::RecordId> hex_id(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  return p::from_hex_fixed<32>(*text);
}

json counts_json(const indexer::SocialCounts& c) {
  return {{"likeCount", c.like}, {"heartCount", c.heart},      {"laughCount", c.laugh},         {"cryCount", c.cry},
          {"dislikeCount", 0},   {"commentCount", c.comments}, {"reactionCount", c.reactions()}};
}

}  // namespace

std::variant<indexer::Subject, HttpResponse> Api::Impl::read_subject(const FieldReader& field) {
  indexer::Subject subject;
  if (auto v = field("releaseId")) {
    auto id = hex_id(v);
    if (!id) return error_response(400, "releaseId: give a release id (64 hex digits)");
    subject.release = *id;
  } else if (auto n = field("modelVersionId")) {
    auto number = parse_number(*n);
    auto id = number ? index.release_by_number(*number) : std::nullopt;
    if (!id) return error_response(404, "No model version with id " + n->substr(0, 40));
    subject.release = *id;
  } else {
    return error_response(400, "name the release: releaseId (hex) or modelVersionId (number)");
  }
  if (auto v = field("image")) {
    subject.image = hex_id(v);
    if (!subject.image) return error_response(400, "image: give the SHA-256 of one of the release's images");
  }
  if (auto v = field("post")) {
    subject.post = hex_id(v);
    if (!subject.post) return error_response(400, "post: give an image post's record id (64 hex digits)");
  }
  if (subject.image && subject.post) return error_response(400, "name either an image or a post, not both");
  if (auto why = config.refuses_subject(subject, index)) return error_response(404, "not shown here: " + *why);
  return subject;
}

std::optional<p::PublicKey> Api::Impl::local_identity(const HttpRequest& request) {
  if (foreign(request, "")) return std::nullopt;
  auto key = p::load_secret_key(data_dir / "identity.key");
  if (!key) return std::nullopt;
  return key->public_key();
}

// GET /api/seedbank/reactions?<subject>: the counts, and (on the node's own
// machine) this node's user's reaction.
HttpResponse Api::Impl::reactions(const HttpRequest& request, const HttpTarget& t) {
  auto subject = read_subject(query_fields(t));
  if (auto* r = std::get_if<HttpResponse>(&subject)) return *r;
  auto& s = std::get<indexer::Subject>(subject);
  json mine = nullptr;
  if (auto me = local_identity(request))
    if (auto id = index.current(p::RecordKind::reaction, *me, indexer::subject_key(s)))
      if (auto rec = index.get(*id); rec && rec->kind() == p::RecordKind::reaction) {
        auto kind = static_cast<std::size_t>(rec->body().getPayload().getReaction().getKind());
        if (kind > 0 && kind < std::size(p::kReactionNames)) mine = p::kReactionNames[kind];
      }
  return json_response(200, json{{"stats", counts_json(index.social(s))}, {"mine", mine}});
}

// POST /api/seedbank/reactions {<subject>, reaction: like|heart|laugh|cry|none}
HttpResponse Api::Impl::react(const HttpRequest& request) {
  auto form = signing_form(request, "react with this node's key",
                           "{\"releaseId\": \"hex\", \"image\" or \"post\": \"hex\", \"reaction\": \"like\"}", false);
  if (auto* r = std::get_if<HttpResponse>(&form)) return *r;
  auto& [b, release, key] = std::get<SigningForm>(form);
  auto subject = read_subject(body_fields(b));
  if (auto* r = std::get_if<HttpResponse>(&subject)) return *r;
  auto kind = b.contains("reaction") && b["reaction"].is_string() ? p::parse_reaction(b["reaction"].get<std::string>())
                                                                  : std::nullopt;
  if (!kind) return error_response(400, "reaction must be like, heart, laugh, cry or none (to withdraw it)");
  p::ReactionDraft draft{std::get<indexer::Subject>(subject), *kind};
  auto answer = sign(*key, draft, {{"reaction", p::kReactionNames[static_cast<std::size_t>(*kind)]}});
  if (answer.status != 200) return answer;
  auto fields = json::parse(answer.body);
  fields["stats"] = counts_json(index.social(draft.subject));
  return json_response(200, fields);
}

json Api::Impl::comment_json(const CommentView& view, const std::optional<p::PublicKey>& me) {
  const auto& original = view.original;
  const auto& shown = view.shown();
  auto c = shown.body().getPayload().getComment();
  auto parent = original.body().getPayload().getComment().getParent();
  json out{{"id", p::to_hex(original.id())},
           {"recordId", p::to_hex(shown.id())},
           {"creator", original.author().to_text()},
           {"username", username_of(index, original.author())},
           {"createdAt", iso8601(original.created_at())},
           {"editedAt", shown.id() == original.id() ? json(nullptr) : json(iso8601(shown.created_at()))},
           {"text", c.getDeleted() ? "" : c.getText().cStr()},
           {"deleted", c.getDeleted()},
           {"parent", parent.size() == 32 ? json(p::to_hex(digest_of(parent))) : json(nullptr)},
           {"mine", me && *me == original.author()}};
  if (parent.size() != 32) {
    json replies = json::array();
    for (const auto& r : view.replies) replies.push_back(comment_json(r, me));
    out["replies"] = std::move(replies);
    out["moreReplies"] = view.more_replies;  // the rest: ?parent=<id>
  }
  return out;
}

// GET /api/seedbank/comments?<subject>[&limit=N][&cursor=C]: top-level
// comments, newest first, each with its first replies, oldest first; with
// &parent=<comment id>, the replies to that comment, oldest first.
HttpResponse Api::Impl::comments(const HttpRequest& request, const HttpTarget& t) {
  auto subject = read_subject(query_fields(t));
  if (auto* r = std::get_if<HttpResponse>(&subject)) return *r;
  auto& s = std::get<indexer::Subject>(subject);
  auto limit = p::integer_param(t, "limit", 1, 100);
  if (!limit) return error_response(400, limit.error().message);
  std::optional<indexer::FeedEntry> position;
  if (auto c = t.get("cursor"); c && !c->empty()) {
    position = parse_comment_cursor(*c);
    if (!position) return error_response(400, "cursor '" + c->substr(0, 100) + "' is not one this node returned");
  }
  auto me = local_identity(request);
  json items = json::array();
  if (auto v = t.get("parent"); v && !v->empty()) {
    auto parent = hex_id(std::string(*v));
    if (!parent) return error_response(400, "parent: give a comment's id (64 hex digits)");
    for (const auto& view : replies_page(index, config, s, *parent, position, limit->value_or(20)))
      items.push_back(comment_json(view, me));
  } else {
    for (const auto& view : comment_page(index, config, s, position, limit->value_or(20)))
      items.push_back(comment_json(view, me));
  }
  json metadata = json::object();
  if (position) metadata["nextCursor"] = comment_cursor(*position);
  return json_response(200, json{{"items", items}, {"stats", counts_json(index.social(s))}, {"metadata", metadata}});
}

// POST /api/seedbank/comments {<subject>, text, parent?} writes a comment
// or a reply; {edits: id, text} replaces the text of one of this key's
// comments; {edits: id, delete: true} withdraws it.
HttpResponse Api::Impl::comment(const HttpRequest& request) {
  auto form = signing_form(request, "comment with this node's key",
                           "{\"releaseId\": \"hex\", \"text\": \"...\", \"parent\": \"hex\"} or "
                           "{\"edits\": \"hex\", \"text\": \"...\"} or {\"edits\": \"hex\", \"delete\": true}",
                           false);
  if (auto* r = std::get_if<HttpResponse>(&form)) return *r;
  auto& [b, release, key] = std::get<SigningForm>(form);
  auto fields = body_fields(b);
  CommentRequest ask;
  if (b.contains("text") && b["text"].is_string()) ask.text = b["text"].get<std::string>();
  ask.deleted = b.contains("delete") && b["delete"] == true;
  if (auto v = fields("edits")) {
    ask.edits = hex_id(v);
    if (!ask.edits) return error_response(400, "edits: give the comment's id (64 hex digits)");
  } else {
    auto subject = read_subject(fields);
    if (auto* r = std::get_if<HttpResponse>(&subject)) return *r;
    ask.subject = std::get<indexer::Subject>(subject);
    if (auto v = fields("parent")) {
      ask.parent = hex_id(v);
      if (!ask.parent) return error_response(400, "parent: give the id of the comment replied to (64 hex digits)");
    }
  }
  auto draft = comment_draft(index, config, key->public_key(), ask);
  if (!draft) {
    auto code = draft.error().code;
    return error_response(code == p::ErrorCode::not_found ? 404
                          : code == p::ErrorCode::refused ? 403
                                                          : 400,
                          draft.error().message);
  }
  auto answer = sign(*key, *draft, {{"deleted", draft->deleted}});
  if (answer.status != 200) return answer;
  auto out = json::parse(answer.body);
  out["id"] = draft->edits ? json(p::to_hex(*draft->edits)) : out["recordId"];
  out["stats"] = counts_json(index.social(draft->subject));
  return json_response(200, out);
}

}  // namespace seedbank::node
