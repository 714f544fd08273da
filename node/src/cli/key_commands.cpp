// seedbank keygen [--out FILE] [--force] [--json]
// seedbank pubkey [--key FILE] [--json]
#include <iostream>

#include "cli.h"
#include "seedbank/node/data_dir.h"
#include "seedbank/protocol/keys.h"

namespace seedbank::node::cli {
namespace {

struct KeyArgs {
  std::string path;
  bool force = false;
  bool json = false;
};

std::filesystem::path key_path(const KeyArgs& args, const Context& ctx) {
  return args.path.empty() ? default_key_path(ctx.global.resolved_data_dir()) : std::filesystem::path(args.path);
}

int print_key(const std::filesystem::path& path, const protocol::PublicKey& key, bool json) {
  if (json) {
    print_json({{"publicKey", key.to_text()}, {"publicKeyHex", protocol::to_hex(key.bytes)}, {"file", path.string()}});
  } else {
    std::cout << key.to_text() << "\n";
  }
  return kOk;
}

}  // namespace

void add_key_commands(CLI::App& app, Context& ctx) {
  auto gen = std::make_shared<KeyArgs>();
  auto* keygen = app.add_subcommand("keygen", "Create an Ed25519 signing key and print its public key");
  keygen->footer(
      "The key file holds the 32-byte seed, mode 0600. Without --out it is\n"
      "<data dir>/identity.key. Back it up: it is your identity as a creator.");
  keygen->add_option("--out", gen->path, "Where to write the key");
  keygen->add_flag("--force", gen->force, "Overwrite an existing key file (its identity is lost)");
  keygen->add_flag("--json", gen->json, "Print {publicKey, publicKeyHex, file}");
  keygen->callback([gen, &ctx] {
    auto path = key_path(*gen, ctx);
    auto key = protocol::SecretKey::generate();
    if (auto st = protocol::save_secret_key(path, key, gen->force); !st) {
      ctx.exit_code = report(st.error());
      return;
    }
    if (!gen->json) std::cerr << "wrote " << path.string() << " (mode 0600)\n";
    ctx.exit_code = print_key(path, key.public_key(), gen->json);
  });

  auto show = std::make_shared<KeyArgs>();
  auto* pubkey = app.add_subcommand("pubkey", "Print the public key of a key file");
  pubkey->add_option("--key", show->path, "Key file (default <data dir>/identity.key)");
  pubkey->add_flag("--json", show->json, "Print {publicKey, publicKeyHex, file}");
  pubkey->callback([show, &ctx] {
    auto path = key_path(*show, ctx);
    auto key = protocol::load_secret_key(path);
    if (!key) {
      ctx.exit_code = report(key.error());
      return;
    }
    ctx.exit_code = print_key(path, key->public_key(), show->json);
  });
}

}  // namespace seedbank::node::cli
