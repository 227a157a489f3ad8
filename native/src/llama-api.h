// The llama.cpp functions the addon calls, resolved at run time from the libllama that
// node-llama-cpp has already loaded. The addon links no llama.cpp library: loading a second copy
// would give two sets of global state (backends, logging) in one process.
#pragma once

#include <string>

#include "ggml-backend.h"
#include "llama.h"

#define VLMKIT_LLAMA_FUNCTIONS(X)     \
  X(llama_model_default_params)       \
  X(llama_context_default_params)     \
  X(llama_sampler_chain_default_params) \
  X(llama_model_load_from_file)       \
  X(llama_model_free)                 \
  X(llama_model_desc)                 \
  X(llama_model_meta_val_str)         \
  X(llama_model_n_embd)               \
  X(llama_model_n_embd_inp)           \
  X(llama_model_n_layer)              \
  X(llama_model_n_ctx_train)          \
  X(llama_model_get_vocab)            \
  X(llama_init_from_model)            \
  X(llama_free)                       \
  X(llama_n_ctx)                      \
  X(llama_n_ctx_seq)                  \
  X(llama_n_batch)                    \
  X(llama_n_ubatch)                   \
  X(llama_n_seq_max)                  \
  X(llama_n_threads)                  \
  X(llama_set_n_threads)              \
  X(llama_get_memory)                 \
  X(llama_vocab_n_tokens)             \
  X(llama_vocab_bos)                  \
  X(llama_vocab_eos)                  \
  X(llama_vocab_eot)                  \
  X(llama_vocab_pad)                  \
  X(llama_vocab_nl)                   \
  X(llama_vocab_is_eog)               \
  X(llama_vocab_is_control)           \
  X(llama_vocab_get_text)             \
  X(llama_vocab_get_add_bos)          \
  X(llama_tokenize)                   \
  X(llama_token_to_piece)             \
  X(llama_detokenize)                 \
  X(llama_memory_clear)               \
  X(llama_memory_seq_rm)              \
  X(llama_memory_seq_cp)              \
  X(llama_memory_seq_keep)            \
  X(llama_memory_seq_pos_min)         \
  X(llama_memory_seq_pos_max)         \
  X(llama_decode)                     \
  X(llama_synchronize)                \
  X(llama_set_causal_attn)            \
  X(llama_set_abort_callback)         \
  X(llama_get_logits_ith)             \
  X(llama_sampler_chain_init)         \
  X(llama_sampler_chain_add)          \
  X(llama_sampler_init_greedy)        \
  X(llama_sampler_init_dist)          \
  X(llama_sampler_init_top_k)         \
  X(llama_sampler_init_top_p)         \
  X(llama_sampler_init_min_p)         \
  X(llama_sampler_init_temp)          \
  X(llama_sampler_init_penalties)     \
  X(llama_sampler_sample)             \
  X(llama_sampler_accept)             \
  X(llama_sampler_reset)              \
  X(llama_sampler_free)               \
  X(llama_attach_threadpool)          \
  X(llama_detach_threadpool)          \
  X(ggml_threadpool_params_default)   \
  X(ggml_backend_load_all_from_path)  \
  X(ggml_backend_dev_count)           \
  X(ggml_backend_dev_by_type)         \
  X(ggml_backend_dev_backend_reg)     \
  X(ggml_backend_reg_get_proc_address)

struct LlamaApi {
#define VLMKIT_DECLARE(name) decltype(&::name) name = nullptr;
  VLMKIT_LLAMA_FUNCTIONS(VLMKIT_DECLARE)
#undef VLMKIT_DECLARE
  /** Absolute path of the libllama the symbols came from. */
  std::string libraryPath;
};

/**
 * Finds the libllama already mapped into this process, proves with RTLD_NOLOAD that dlopen hands back
 * that same object, and resolves every function. Returns an error message, empty on success.
 * Once it has succeeded, later calls return at once.
 */
std::string AttachLlama();

/** The resolved functions; only valid after AttachLlama() succeeded. */
const LlamaApi& Llama();

bool LlamaAttached();
