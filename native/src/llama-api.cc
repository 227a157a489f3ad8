#include "llama-api.h"

#include <dlfcn.h>
#include <link.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

LlamaApi api;
bool attached = false;
std::string attachError;

// libllama's file name carries the release: libllama.so, libllama.v0.4.0.so, libllama.so.1 …
// libllama-common.so is node-llama-cpp's helper library, not llama.cpp's C API.
bool IsLibllama(const std::string& file) {
  const std::string base = file.substr(file.find_last_of('/') + 1);
  return base.rfind("libllama.", 0) == 0 && base.find(".so") != std::string::npos;
}

int CollectLoaded(struct dl_phdr_info* info, size_t, void* data) {
  auto* found = static_cast<std::vector<std::string>*>(data);
  if (info->dlpi_name != nullptr && IsLibllama(info->dlpi_name)) found->emplace_back(info->dlpi_name);
  return 0;
}

std::string DirName(const std::string& file) {
  const auto slash = file.find_last_of('/');
  return slash == std::string::npos ? std::string(".") : file.substr(0, slash);
}

std::string DoAttach() {
  std::vector<std::string> loaded;
  dl_iterate_phdr(CollectLoaded, &loaded);
  if (loaded.empty()) {
    return "libllama is not loaded in this process: load node-llama-cpp first (await getLlama()) so that "
           "the addon uses the llama.cpp build node-llama-cpp chose";
  }
  if (loaded.size() > 1) {
    std::string list;
    for (const auto& f : loaded) list += " \"" + f + "\"";
    return "several libllama copies are loaded:" + list + "; expected exactly one";
  }
  const std::string& file = loaded.front();
  // RTLD_NOLOAD returns a handle only for an object that is already loaded: never a second copy.
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) {
    const char* why = dlerror();
    return "dlopen(\"" + file + "\", RTLD_NOLOAD) failed: " + (why ? why : "unknown error");
  }
  // dlsym on a handle also searches that object's dependencies (libggml, libggml-base).
#define VLMKIT_RESOLVE(name)                                                          \
  api.name = reinterpret_cast<decltype(api.name)>(dlsym(handle, #name));              \
  if (api.name == nullptr) {                                                          \
    return std::string("symbol \"" #name "\" not found in \"") + file +               \
           "\": the llama.cpp headers the addon was built with do not match; rebuild with " \
           "`node native/build.mjs --strict`";                                        \
  }
  VLMKIT_LLAMA_FUNCTIONS(VLMKIT_RESOLVE)
#undef VLMKIT_RESOLVE
  api.libraryPath = file;
  // Backends (CPU variants, GPU) live next to libllama as loadable modules. node-llama-cpp registers
  // them too; registering again is a no-op because ggml deduplicates backends by registry.
  api.ggml_backend_load_all_from_path(DirName(file).c_str());
  if (api.ggml_backend_dev_count() == 0) {
    return "no ggml backend could be loaded from \"" + DirName(file) + "\"";
  }
  return "";
}

}  // namespace

std::string AttachLlama() {
  // Only success is cached: a call made before node-llama-cpp loaded may be retried after it has.
  if (!attached) {
    attachError = DoAttach();
    attached = attachError.empty();
  }
  return attachError;
}

const LlamaApi& Llama() { return api; }

bool LlamaAttached() { return attached; }
