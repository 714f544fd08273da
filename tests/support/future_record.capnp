@0xd53f1b8ff2803329;
# Records "from the future", for forward-compatibility tests: this file
# stands in for a newer schemas/record.capnp. RecordBody and Release copy
# today's structs ordinal for ordinal (so their layout, hence their bytes,
# are the same) and add what a newer Seedbank might: a payload kind
# (`mirror`), a body field and a release field. Records built with it are
# signed like any other (see support/future_records.h).
#
# Never renumber: these must stay layout-compatible with record.capnp.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("seedbank::future");

using R = import "/seedbank/schemas/record.capnp";

struct SignedRecord {
  body @0 :RecordBody;
  signature @1 :Data;
}

struct RecordBody {
  author @0 :Data;
  createdAt @1 :UInt64;
  network @2 :Text;
  payload :union {
    release @3 :Release;
    rating @4 :R.Rating;
    profile @5 :R.Profile;
    imagePost @6 :R.ImagePost;
    retraction @7 :R.Retraction;
    keyRotation @8 :R.KeyRotation;
    denyList @9 :R.DenyList;
    reaction @11 :R.Reaction;
    comment @12 :R.Comment;
    releaseUpdate @13 :R.ReleaseUpdate;
    collection @14 :R.Collection;
    mirror @15 :Mirror;        # a kind today's Seedbank does not know
  }
  workNonce @10 :UInt64;
  topic @16 :Text;             # a body field today's Seedbank does not know
}

struct Release {
  modelName @0 :Text;
  modelSlug @1 :Text;
  versionName @2 :Text;
  type @3 :R.ModelType;
  baseModel @4 :Text;
  description @5 :Text;
  tags @6 :List(Text);
  triggerWords @7 :List(Text);
  license @8 :R.License;
  files @9 :List(R.ModelFile);
  images @10 :List(R.SampleImage);
  torrent @11 :R.Torrent;
  supersedes @12 :Data;
  nsfw @13 :Bool;
  origin @14 :R.Origin;
  modelDescription @15 :Text;
  nsfwLevel @16 :UInt8;        # a release field today's Seedbank does not know
}

struct Mirror {
  # A release re-published by someone other than its creator.
  release @0 :Data;            # record id of the mirrored release
  origin @1 :Text;             # e.g. "civitai:modelVersion/12345"
  note @2 :Text;
}
