// A loaded GGUF model: vocabulary queries, tokenize/detokenize. Contexts and samplers keep the
// underlying llama_model alive through a shared handle, so dispose() order cannot free it under them.
#pragma once

#include <napi.h>

#include <memory>
#include <string>

#include "llama-api.h"

namespace vlmkit {

struct ModelHandle {
  llama_model* model = nullptr;
  const llama_vocab* vocab = nullptr;
  int32_t nVocab = 0;
  int32_t nEmbd = 0;
  /** Width of one input-embedding row (llama_model_n_embd_inp); equals nEmbd for gemma3. */
  int32_t nEmbdInp = 0;
  ~ModelHandle();
};

class Model : public Napi::ObjectWrap<Model> {
 public:
  static Napi::Function Init(Napi::Env env);
  /** loadModel(path, {gpuLayers, useMmap}) → Promise<Model>. */
  static Napi::Value Load(const Napi::CallbackInfo& info);
  /** Wraps a loaded handle; takes ownership of `holder`. */
  static Napi::Object Construct(Napi::Env env, std::shared_ptr<ModelHandle>* holder);
  /** The live handle of a JS Model argument, or throws (wrong type, disposed). */
  static std::shared_ptr<ModelHandle> HandleOf(Napi::Env env, const Napi::Value& value, const char* name);

  explicit Model(const Napi::CallbackInfo& info);

 private:
  static Napi::FunctionReference constructor;
  std::shared_ptr<ModelHandle> handle_;

  const ModelHandle& Live(Napi::Env env) const;
  llama_token Token(Napi::Env env, const Napi::Value& value, const char* name) const;
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Tokenize(const Napi::CallbackInfo& info);
  Napi::Value Detokenize(const Napi::CallbackInfo& info);
  Napi::Value TokenText(const Napi::CallbackInfo& info);
  Napi::Value TokenPiece(const Napi::CallbackInfo& info);
  Napi::Value IsEog(const Napi::CallbackInfo& info);
  Napi::Value IsControl(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);
};

}  // namespace vlmkit
