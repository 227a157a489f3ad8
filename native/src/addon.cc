// vlmkit's llama.cpp addon: what node-llama-cpp does not expose, chiefly decoding batches of input
// embeddings (image features) next to tokens. It drives the libllama node-llama-cpp has loaded.
#include <napi.h>

#include "common.h"
#include "context.h"
#include "llama-api.h"
#include "model.h"
#include "sampler.h"

namespace vlmkit {
namespace {

// attach() → {libraryPath}: binds to the loaded libllama (throws NATIVE when node-llama-cpp has not
// loaded one yet). Model loading attaches too; calling it first gives the error early.
Napi::Value Attach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string error = AttachLlama();
  if (!error.empty()) Throw(env, "NATIVE", error);
  Napi::Object out = Napi::Object::New(env);
  out.Set("libraryPath", Llama().libraryPath);
  return out;
}

}  // namespace
}  // namespace vlmkit

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  using namespace vlmkit;
  exports.Set("attach", Napi::Function::New(env, Attach, "attach"));
  exports.Set("loadModel", Napi::Function::New(env, Model::Load, "loadModel"));
  exports.Set("NativeModel", Model::Init(env));
  exports.Set("NativeContext", Context::Init(env));
  exports.Set("NativeSampler", Sampler::Init(env));
  return exports;
}

NODE_API_MODULE(vlmkit_llama, InitAddon)
