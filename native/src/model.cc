#include "model.h"

#include <climits>
#include <vector>

#include "common.h"

namespace vlmkit {

Napi::FunctionReference Model::constructor;

ModelHandle::~ModelHandle() {
  if (model != nullptr) Llama().llama_model_free(model);
}

namespace {

struct LoadRequest {
  std::string path;
  int32_t gpuLayers = 0;
  bool useMmap = true;
};

class LoadWorker : public Napi::AsyncWorker {
 public:
  LoadWorker(Napi::Env env, LoadRequest request)
      : Napi::AsyncWorker(env, "vlmkit.loadModel"), request_(std::move(request)), deferred_(env) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    auto params = Llama().llama_model_default_params();
    params.n_gpu_layers = request_.gpuLayers;
    params.load_mode = request_.useMmap ? LLAMA_LOAD_MODE_MMAP : LLAMA_LOAD_MODE_NONE;
    // node-llama-cpp owns llama.cpp's log callback; progress is not needed for a single call.
    llama_model* model = Llama().llama_model_load_from_file(request_.path.c_str(), params);
    if (model == nullptr) {
      SetError("llama.cpp could not load the GGUF file \"" + request_.path +
               "\" (missing file, unsupported architecture, or a malformed file: see the llama.cpp log)");
      return;
    }
    handle_ = std::make_shared<ModelHandle>();
    handle_->model = model;
    handle_->vocab = Llama().llama_model_get_vocab(model);
    handle_->nVocab = Llama().llama_vocab_n_tokens(handle_->vocab);
    handle_->nEmbd = Llama().llama_model_n_embd(model);
    handle_->nEmbdInp = Llama().llama_model_n_embd_inp(model);
  }

  void OnOK() override {
    Napi::Env env = Env();
    auto* holder = new std::shared_ptr<ModelHandle>(std::move(handle_));
    Napi::Object object = Model::Construct(env, holder);
    deferred_.Resolve(object);
  }

  void OnError(const Napi::Error& error) override {
    deferred_.Reject(CodedError(Env(), "MODEL_FORMAT", error.Message()).Value());
  }

 private:
  LoadRequest request_;
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<ModelHandle> handle_;
};

}  // namespace

Napi::Function Model::Init(Napi::Env env) {
  Napi::Function fn = DefineClass(env, "NativeModel",
                                  {
                                      InstanceMethod("info", &Model::Info),
                                      InstanceMethod("tokenize", &Model::Tokenize),
                                      InstanceMethod("detokenize", &Model::Detokenize),
                                      InstanceMethod("tokenText", &Model::TokenText),
                                      InstanceMethod("tokenPiece", &Model::TokenPiece),
                                      InstanceMethod("isEog", &Model::IsEog),
                                      InstanceMethod("isControl", &Model::IsControl),
                                      InstanceMethod("dispose", &Model::Dispose),
                                      InstanceAccessor("disposed", &Model::Disposed, nullptr),
                                  });
  constructor = Napi::Persistent(fn);
  return fn;
}

Napi::Object Model::Construct(Napi::Env env, std::shared_ptr<ModelHandle>* holder) {
  return constructor.New({Napi::External<std::shared_ptr<ModelHandle>>::New(env, holder)});
}

Model::Model(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Model>(info) {
  if (info.Length() != 1 || !info[0].IsExternal())
    ThrowInvalid(info.Env(), "NativeModel cannot be constructed directly: use loadModel(path, options)");
  auto* holder = info[0].As<Napi::External<std::shared_ptr<ModelHandle>>>().Data();
  handle_ = std::move(*holder);
  delete holder;
}

Napi::Value Model::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string attachError = AttachLlama();
  if (!attachError.empty()) Throw(env, "NATIVE", attachError);
  LoadRequest request;
  request.path = ToString(env, info[0], "path");
  if (request.path.empty()) ThrowInvalid(env, "path must be a non-empty string, got \"\"");
  const Napi::Object options = info[1].IsUndefined() ? Napi::Object::New(env) : ToObject(env, info[1], "options");
  if (!options.Get("gpuLayers").IsUndefined())
    request.gpuLayers = static_cast<int32_t>(ToInt(env, options.Get("gpuLayers"), "options.gpuLayers", -1, INT32_MAX));
  if (!options.Get("useMmap").IsUndefined()) request.useMmap = ToBool(env, options.Get("useMmap"), "options.useMmap");
  auto* worker = new LoadWorker(env, std::move(request));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

std::shared_ptr<ModelHandle> Model::HandleOf(Napi::Env env, const Napi::Value& value, const char* name) {
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(constructor.Value()))
    ThrowInvalid(env, std::string(name) + " must be a NativeModel, got " + Describe(value));
  Model* model = Napi::ObjectWrap<Model>::Unwrap(value.As<Napi::Object>());
  if (!model->handle_) Throw(env, "DISPOSED", "the model has been disposed");
  return model->handle_;
}

const ModelHandle& Model::Live(Napi::Env env) const {
  if (!handle_) Throw(env, "DISPOSED", "the model has been disposed");
  return *handle_;
}

llama_token Model::Token(Napi::Env env, const Napi::Value& value, const char* name) const {
  return static_cast<llama_token>(ToInt(env, value, name, 0, Live(env).nVocab - 1));
}

Napi::Value Model::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ModelHandle& h = Live(env);
  const LlamaApi& api = Llama();
  Napi::Object out = Napi::Object::New(env);
  char buf[256];
  out.Set("nVocab", h.nVocab);
  out.Set("nEmbd", h.nEmbd);
  out.Set("nEmbdInp", h.nEmbdInp);
  out.Set("nLayer", api.llama_model_n_layer(h.model));
  out.Set("nCtxTrain", api.llama_model_n_ctx_train(h.model));
  api.llama_model_desc(h.model, buf, sizeof buf);
  out.Set("description", std::string(buf));
  const int32_t n = api.llama_model_meta_val_str(h.model, "general.architecture", buf, sizeof buf);
  out.Set("architecture", n >= 0 ? std::string(buf) : std::string());
  // LLAMA_TOKEN_NULL (-1) means the vocabulary has no such token.
  out.Set("bos", api.llama_vocab_bos(h.vocab));
  out.Set("eos", api.llama_vocab_eos(h.vocab));
  out.Set("eot", api.llama_vocab_eot(h.vocab));
  out.Set("pad", api.llama_vocab_pad(h.vocab));
  out.Set("nl", api.llama_vocab_nl(h.vocab));
  out.Set("addBos", api.llama_vocab_get_add_bos(h.vocab));
  out.Set("libraryPath", api.libraryPath);
  return out;
}

// tokenize(text, addSpecial, parseSpecial) → Int32Array
Napi::Value Model::Tokenize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ModelHandle& h = Live(env);
  const std::string text = ToString(env, info[0], "text");
  const bool addSpecial = ToBool(env, info[1], "addSpecial");
  const bool parseSpecial = ToBool(env, info[2], "parseSpecial");
  if (text.size() > static_cast<size_t>(INT32_MAX / 2))
    ThrowInvalid(env, "text is " + std::to_string(text.size()) + " bytes; at most " +
                          std::to_string(INT32_MAX / 2) + " can be tokenized at once");
  std::vector<llama_token> tokens(text.size() + 8);
  int32_t n = Llama().llama_tokenize(h.vocab, text.data(), static_cast<int32_t>(text.size()), tokens.data(),
                                     static_cast<int32_t>(tokens.size()), addSpecial, parseSpecial);
  if (n < 0 && n != INT32_MIN) {
    tokens.resize(static_cast<size_t>(-n));
    n = Llama().llama_tokenize(h.vocab, text.data(), static_cast<int32_t>(text.size()), tokens.data(),
                               static_cast<int32_t>(tokens.size()), addSpecial, parseSpecial);
  }
  if (n < 0) Throw(env, "NATIVE", "llama_tokenize failed with " + std::to_string(n));
  Napi::Int32Array out = Napi::Int32Array::New(env, static_cast<size_t>(n));
  std::copy(tokens.begin(), tokens.begin() + n, out.Data());
  return out;
}

// detokenize(tokens: Int32Array, removeSpecial, unparseSpecial) → string
Napi::Value Model::Detokenize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ModelHandle& h = Live(env);
  const Napi::Int32Array tokens = ToTypedArray<int32_t>(env, info[0], "tokens", "an Int32Array");
  const bool removeSpecial = ToBool(env, info[1], "removeSpecial");
  const bool unparseSpecial = ToBool(env, info[2], "unparseSpecial");
  const int32_t* data = tokens.Data();
  const size_t count = tokens.ElementLength();
  if (count > static_cast<size_t>(INT32_MAX)) ThrowInvalid(env, "too many tokens to detokenize at once");
  for (size_t i = 0; i < count; i++) {
    if (data[i] < 0 || data[i] >= h.nVocab)
      ThrowInvalid(env, "tokens[" + std::to_string(i) + "] = " + std::to_string(data[i]) + " is not in [0, " +
                            std::to_string(h.nVocab) + ")");
  }
  std::string text(count * 8 + 16, '\0');
  int32_t n = Llama().llama_detokenize(h.vocab, data, static_cast<int32_t>(count), text.data(),
                                       static_cast<int32_t>(text.size()), removeSpecial, unparseSpecial);
  if (n < 0) {
    text.resize(static_cast<size_t>(-n));
    n = Llama().llama_detokenize(h.vocab, data, static_cast<int32_t>(count), text.data(),
                                 static_cast<int32_t>(text.size()), removeSpecial, unparseSpecial);
  }
  if (n < 0) Throw(env, "NATIVE", "llama_detokenize failed with " + std::to_string(n));
  text.resize(static_cast<size_t>(n));
  return Napi::String::New(env, text);
}

// tokenText(token) → the vocabulary string as stored in the GGUF (e.g. "▁cat", "<0x0A>").
Napi::Value Model::TokenText(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const llama_token token = Token(env, info[0], "token");
  const char* text = Llama().llama_vocab_get_text(Live(env).vocab, token);
  return Napi::String::New(env, text == nullptr ? "" : text);
}

// tokenPiece(token, special) → Uint8Array: the bytes the token renders to, possibly part of a UTF-8
// character (byte tokens), so streaming callers join bytes before decoding.
Napi::Value Model::TokenPiece(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const llama_token token = Token(env, info[0], "token");
  const bool special = ToBool(env, info[1], "special");
  std::vector<char> buf(64);
  int32_t n = Llama().llama_token_to_piece(Live(env).vocab, token, buf.data(), static_cast<int32_t>(buf.size()), 0,
                                           special);
  if (n < 0) {
    buf.resize(static_cast<size_t>(-n));
    n = Llama().llama_token_to_piece(Live(env).vocab, token, buf.data(), static_cast<int32_t>(buf.size()), 0,
                                     special);
  }
  if (n < 0) Throw(env, "NATIVE", "llama_token_to_piece failed with " + std::to_string(n));
  Napi::Uint8Array out = Napi::Uint8Array::New(env, static_cast<size_t>(n));
  std::copy(buf.begin(), buf.begin() + n, out.Data());
  return out;
}

Napi::Value Model::IsEog(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::Boolean::New(env, Llama().llama_vocab_is_eog(Live(env).vocab, Token(env, info[0], "token")));
}

Napi::Value Model::IsControl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::Boolean::New(env, Llama().llama_vocab_is_control(Live(env).vocab, Token(env, info[0], "token")));
}

// Drops this object's reference; the llama_model is freed once no context or sampler holds it.
Napi::Value Model::Dispose(const Napi::CallbackInfo& info) {
  handle_.reset();
  return info.Env().Undefined();
}

Napi::Value Model::Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !handle_); }

}  // namespace vlmkit
