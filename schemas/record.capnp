@0xb7c3e1f2a4d58e91;
# Seedbank's replicated records. Every record travels and is stored as a
# SignedRecord in canonical Cap'n Proto form (single segment, no segment
# table, see capnp::canonicalize). docs/protocol.md specifies signing and ids.
#
# Rules for editing: never renumber an ordinal, never change a field's type;
# add new fields at the end of their struct with the next ordinal.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("seedbank::schema");

struct SignedRecord {
  body @0 :RecordBody;       # what the author signed
  signature @1 :Data;        # Ed25519, 64 bytes, over "seedbank/record/v1\0" ++ canonical(body)
}

struct RecordBody {
  author @0 :Data;           # Ed25519 public key of the signer, 32 bytes
  createdAt @1 :UInt64;      # milliseconds since the Unix epoch, author's clock
  network @2 :Text;          # network id ("main", "devnet-..."); records never cross networks
  payload :union {
    release @3 :Release;
    rating @4 :Rating;
    profile @5 :Profile;
    imagePost @6 :ImagePost;
    retraction @7 :Retraction;
    keyRotation @8 :KeyRotation;
    denyList @9 :DenyList;
    reaction @11 :Reaction;
    comment @12 :Comment;
    releaseUpdate @13 :ReleaseUpdate;
    collection @14 :Collection;
  }
  workNonce @10 :UInt64;     # proof-of-work stamp: see workBits in docs/protocol.md
}

enum ModelType {
  # Civitai's model types, spelled in docs/user-guide.md as Civitai does.
  other @0;
  checkpoint @1;
  textualInversion @2;
  hypernetwork @3;
  aestheticGradient @4;
  lora @5;
  locon @6;
  dora @7;
  controlnet @8;
  upscaler @9;
  motionModule @10;
  vae @11;
  poses @12;
  wildcards @13;
  workflows @14;
  detection @15;
}

enum CommercialUse {
  # One entry of Civitai's allowCommercialUse list.
  image @0;                  # sell images made with the model
  rentCivit @1;              # run it on Civitai's generator
  rent @2;                   # run it on generation services for money
  sell @3;                   # sell the model or merges of it
}

struct License {
  name @0 :Text;                             # e.g. "CreativeML OpenRAIL-M"
  allowCommercialUse @1 :List(CommercialUse);
  allowDerivatives @2 :Bool = true;          # merges and fine-tunes may be shared
  allowNoCredit @3 :Bool = true;             # derivatives need not credit the creator
  allowDifferentLicense @4 :Bool = true;     # derivatives may use other permissions
}

enum FileRole {
  model @0;                  # the weights people load
  prunedModel @1;
  trainingData @2;
  config @3;
  archive @4;
  vae @5;                    # a VAE shipped beside a checkpoint
  other @6;
}

enum FileFormat {
  other @0;
  safeTensor @1;
  pickleTensor @2;           # .ckpt/.pt/.bin: can run code when loaded
  gguf @3;
  diffusers @4;
  onnx @5;
}

enum Precision {
  unknown @0;
  fp32 @1;
  fp16 @2;
  bf16 @3;
  fp8 @4;
  nf4 @5;
  other @6;
}

struct FileHashes {
  sha256 @0 :Data;           # 32 bytes; AutoV2 is its first 5 bytes
  autoV1 @1 :Data;           # 32 bytes: SHA-256 of the 0x10000 bytes at 0x100000; AutoV1 is its first 4
  autoV3 @2 :Data;           # 32 bytes: SHA-256 of a safetensors file after its header; empty otherwise
  crc32 @3 :UInt32;          # IEEE CRC-32 as zlib computes it
  piecesRoot @4 :Data;       # 32 bytes: BitTorrent v2 merkle root of the file; empty for an empty file
}

struct ModelFile {
  name @0 :Text;             # file name, no path separators
  size @1 :UInt64;           # bytes
  role @2 :FileRole;
  format @3 :FileFormat;
  precision @4 :Precision;
  primary @5 :Bool;          # the file a "download" of the version gets
  hashes @6 :FileHashes;
}

struct GenerationParams {
  # What the image's generator recorded. Typed fields are parsed from the
  # AUTOMATIC1111 "parameters" text; `settings` keeps every key in order.
  prompt @0 :Text;
  negativePrompt @1 :Text;
  steps @2 :UInt32;
  sampler @3 :Text;
  cfgScale @4 :Float64;
  seed @5 :Int64;
  width @6 :UInt32;
  height @7 :UInt32;
  modelHash @8 :Text;
  modelName @9 :Text;
  settings @10 :List(Setting);     # every "Key: value" pair as written
  comfyPrompt @11 :Text;           # ComfyUI "prompt" JSON, verbatim
  comfyWorkflow @12 :Text;         # ComfyUI "workflow" JSON, verbatim
  raw @13 :Text;                   # the parameters text as found
  hasSeed @14 :Bool;               # seed 0 is a valid seed
}

struct Setting {
  key @0 :Text;
  value @1 :Text;
}

struct SampleImage {
  name @0 :Text;             # file name inside the release's torrent
  sha256 @1 :Data;           # 32 bytes
  size @2 :UInt64;
  width @3 :UInt32;
  height @4 :UInt32;
  mimeType @5 :Text;         # image/png, image/jpeg, image/webp
  nsfw @6 :Bool;
  generation @7 :GenerationParams;
  nsfwLevel @8 :UInt8;       # Civitai's browsing level: 1 PG, 2 PG-13, 4 R, 8 X, 16 XXX;
                             # 0 (records made before it): from nsfw (1 or 4)
}

struct Torrent {
  infoHashV2 @0 :Data;       # 32 bytes, SHA-256 of `info`
  infoHashV1 @1 :Data;       # 20 bytes, SHA-1 of `info`; empty for a v2-only torrent
  info @2 :Data;             # the bencoded info dictionary, so no metadata round trip is needed
  pieceLayers @3 :Data;      # bencoded "piece layers" dictionary (BEP 52); may be empty
  trackers @4 :List(Text);   # announce URLs; outside `info`, so they never change the info-hash
}

struct Release {
  # One immutable version of a model.
  modelName @0 :Text;
  modelSlug @1 :Text;        # lowercase [a-z0-9-], derived from modelName
  versionName @2 :Text;
  type @3 :ModelType;
  baseModel @4 :Text;        # Civitai's names ("SD 1.5", "SDXL 1.0", "Pony", "Flux.1 D", ...)
  description @5 :Text;      # Markdown
  tags @6 :List(Text);
  triggerWords @7 :List(Text);
  license @8 :License;
  files @9 :List(ModelFile);
  images @10 :List(SampleImage);
  torrent @11 :Torrent;
  supersedes @12 :Data;      # record id of the previous version, or empty
  nsfw @13 :Bool;
  origin @14 :Origin;        # set: a mirror, signed by someone other than the files' creator
  modelDescription @15 :Text; # Markdown: the model's own page, apart from this version's notes
}

struct Origin {
  # Where a mirror's files were published first (docs/protocol.md, "Mirrors").
  site @0 :Text;             # "civitai"
  modelId @1 :UInt64;        # the site's ids (Civitai: model and model-version ids), 0 if none
  versionId @2 :UInt64;
  creator @3 :Text;          # the creator's user name there
  url @4 :Text;              # the page the files came from
  sha256 @5 :List(Data);     # the SHA-256 the site recorded for each file, in files order
}

struct Rating {
  # One per author and release: a newer one replaces the older.
  release @0 :Data;          # record id of the rated release
  stars @1 :UInt8;           # 1..5
  review @2 :Text;
}

struct Profile {
  # One per author: a newer one replaces the older.
  displayName @0 :Text;
  bio @1 :Text;
  avatar @2 :Data;           # SHA-256 of an image, or empty
  links @3 :List(Text);
}

struct ImagePost {
  # A user's image made with a release.
  release @0 :Data;          # record id
  image @1 :SampleImage;
  caption @2 :Text;
}

struct Retraction {
  # The release's author withdraws it.
  release @0 :Data;          # record id of a release by the same author
  reason @1 :Text;
}

struct KeyRotation {
  # Signed by the old key (the record's author); newKeySignature proves the
  # new key agreed: Ed25519 by newKey over
  # "seedbank/rotation/v1\0" ++ oldKey ++ newKey ++ u64le(createdAt).
  newKey @0 :Data;
  newKeySignature @1 :Data;
  revokeOld @2 :Bool;        # the old key is compromised: distrust its later records
  reason @3 :Text;
  # With revokeOld and keepListed, the old key's earlier records count only
  # if listed here (record ids, ascending): a thief cannot back-date records
  # to before the revocation.
  keep @4 :List(Data);
  keepListed @5 :Bool;
}

struct DenyList {
  # A curator's list; one per author and name, a newer one replaces the older.
  name @0 :Text;
  entries @1 :List(DenyEntry);
}

struct DenyEntry {
  target :union {
    release @0 :Data;        # record id
    contentHash @1 :Data;    # SHA-256 of a file
    creator @2 :Data;        # public key
    nsfwLevel @4 :CuratedLevel;  # no denial: an image is shown at this level at least
  }
  reason @3 :Text;
}

struct CuratedLevel {
  # A curator's rating of an image wherever it appears (a release's sample
  # image or a post): nodes following the curator show it at least this
  # level (Civitai's 1 PG, 2 PG-13, 4 R, 8 X, 16 XXX). It only raises.
  sha256 @0 :Data;
  level @1 :UInt8;
}

struct Subject {
  # What a reaction or a comment is about: a release, one of its sample
  # images, or an image post about it. `release` is always set, so records
  # about a release can be replicated together (by release).
  release @0 :Data;          # record id of the release (for a post: the release the post names)
  image @1 :Data;            # SHA-256 of one of the release's sample images, or empty
  post @2 :Data;             # record id of an image post about the release, or empty
}

enum ReactionKind {
  none @0;                   # withdraws the author's reaction
  like @1;
  heart @2;
  laugh @3;
  cry @4;
}

struct Reaction {
  # One per author and subject: a newer one replaces the older.
  subject @0 :Subject;
  kind @1 :ReactionKind;
}

struct Comment {
  # Markdown about a subject, or a reply to a top-level comment on it.
  # Edited or deleted by a newer comment of the same author naming it in
  # `edits` (with the same subject and parent).
  subject @0 :Subject;
  parent @1 :Data;           # record id of the top-level comment replied to, or empty
  text @2 :Text;             # Markdown; empty only when deleted
  edits @3 :Data;            # record id of the author's comment this one replaces, or empty
  deleted @4 :Bool;          # with edits: the comment is withdrawn
}

struct ReleaseUpdate {
  # The release's author changes what its page shows, never its files or
  # names. One per author and release: a newer one replaces the older, and
  # it holds the whole new state of these fields (an empty list is empty).
  # The signed release stays as it was, and verifiable.
  release @0 :Data;           # record id of a release by the same author
  modelDescription @1 :Text;  # Markdown
  description @2 :Text;       # Markdown: this version's notes
  tags @3 :List(Text);
  triggerWords @4 :List(Text);
  images @5 :List(SampleImage);  # the release's sample images to show (by sha256), in order, with their
                                 # levels; without generation data: the release's
  nsfw @6 :Bool;
}

struct Collection {
  # A user's list of releases and images, in the order given (Civitai's
  # collections). One per author and slug: a newer one replaces the older,
  # and it holds the whole list.
  slug @0 :Text;             # lowercase [a-z0-9-], 1..64 bytes: which of the author's collections
  name @1 :Text;             # the title; empty only in a deletion
  description @2 :Text;      # Markdown
  items @3 :List(CollectionItem);
  deleted @4 :Bool;          # the author withdraws the collection (no name, no items)
}

struct CollectionItem {
  subject @0 :Subject;       # a release (image and post empty), one of its sample images, or an image post
  note @1 :Text;             # why it is here; may be empty
}
