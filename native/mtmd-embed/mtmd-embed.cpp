// vlmkit-mtmd-embed: the image embeddings llama.cpp's libmtmd computes for one image, written as raw
// float32, so that vlmkit's own encoder + adapter can be compared with them value by value.
//
//   vlmkit-mtmd-embed <model.gguf> <mmproj.gguf> <image> <out.f32> [--rgb WxH] [--threads N]
//
// <image> is any file stb_image reads (PNG, JPEG, ...), or with --rgb raw 8-bit RGB of W×H pixels
// (row-major, no header), which skips file decoding so only mtmd's own resize and normalisation apply.
// On success prints one JSON line to stdout: {"tokens":N,"width":D,"nx":W,"ny":H}; <out.f32> then
// holds N*D little-endian float32, token-major ([N, D]). Exit status 1 with a message on any failure.
//
// Built with llama.cpp's tools (npm run llama-tools) from the same bundled source as node-llama-cpp.

#include "llama.h"
#include "mtmd-helper.h"
#include "mtmd.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

static int fail(const std::string & message) {
    std::fprintf(stderr, "vlmkit-mtmd-embed: %s\n", message.c_str());
    return 1;
}

static void quiet_log(enum ggml_log_level level, const char * text, void *) {
    if (level >= GGML_LOG_LEVEL_ERROR) std::fputs(text, stderr);
}

int main(int argc, char ** argv) {
    if (argc < 5) {
        return fail("usage: vlmkit-mtmd-embed <model.gguf> <mmproj.gguf> <image> <out.f32> [--rgb WxH] [--threads N]");
    }
    const char * model_path = argv[1];
    const char * mmproj_path = argv[2];
    const char * image_path = argv[3];
    const char * out_path = argv[4];
    int rgb_w = 0, rgb_h = 0, threads = 1;
    for (int i = 5; i < argc; i++) {
        if (std::strcmp(argv[i], "--rgb") == 0 && i + 1 < argc) {
            if (std::sscanf(argv[++i], "%dx%d", &rgb_w, &rgb_h) != 2 || rgb_w <= 0 || rgb_h <= 0) {
                return fail("--rgb takes WxH, e.g. 224x224");
            }
        } else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            threads = std::atoi(argv[++i]);
            if (threads <= 0) return fail("--threads takes a positive number");
        } else {
            return fail(std::string("unknown argument ") + argv[i]);
        }
    }

    llama_log_set(quiet_log, nullptr);
    mtmd_helper_log_set(quiet_log, nullptr);
    llama_backend_init();

    llama_model_params mparams = llama_model_default_params();
    mparams.n_gpu_layers = 0;
    llama_model * model = llama_model_load_from_file(model_path, mparams);
    if (!model) return fail(std::string("cannot load model ") + model_path);

    mtmd_context_params cparams = mtmd_context_params_default();
    cparams.use_gpu = false;
    cparams.print_timings = false;
    cparams.n_threads = threads;
    cparams.warmup = false;
    mtmd_context * ctx = mtmd_init_from_file(mmproj_path, model, cparams);
    if (!ctx) return fail(std::string("cannot load mmproj ") + mmproj_path);

    mtmd_bitmap * bitmap = nullptr;
    if (rgb_w > 0) {
        std::ifstream in(image_path, std::ios::binary);
        std::vector<unsigned char> rgb((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (rgb.size() != static_cast<size_t>(rgb_w) * rgb_h * 3) {
            return fail("--rgb size does not match the file's length");
        }
        bitmap = mtmd_bitmap_init(rgb_w, rgb_h, rgb.data());
    } else {
        bitmap = mtmd_helper_bitmap_init_from_file(ctx, image_path, false, mtmd_helper_init_opt_default()).bitmap;
    }
    if (!bitmap) return fail(std::string("cannot read image ") + image_path);
    const uint32_t nx = mtmd_bitmap_get_nx(bitmap);
    const uint32_t ny = mtmd_bitmap_get_ny(bitmap);

    const std::string prompt = mtmd_default_marker();
    mtmd_input_text text = { prompt.c_str(), prompt.size(), false, true };
    mtmd_input_chunks * chunks = mtmd_input_chunks_init();
    const mtmd_bitmap * bitmaps[] = { bitmap };
    if (mtmd_tokenize(ctx, chunks, &text, bitmaps, 1) != 0) return fail("mtmd_tokenize failed");

    const mtmd_input_chunk * image_chunk = nullptr;
    for (size_t i = 0; i < mtmd_input_chunks_size(chunks); i++) {
        const mtmd_input_chunk * chunk = mtmd_input_chunks_get(chunks, i);
        if (mtmd_input_chunk_get_type(chunk) == MTMD_INPUT_CHUNK_TYPE_IMAGE) image_chunk = chunk;
    }
    if (!image_chunk) return fail("mtmd_tokenize produced no image chunk");
    if (mtmd_encode_chunk(ctx, image_chunk) != 0) return fail("mtmd_encode_chunk failed");

    const size_t n_tokens = mtmd_input_chunk_get_n_tokens(image_chunk);
    const int32_t width = llama_model_n_embd_inp(model);
    const float * embd = mtmd_get_output_embd(ctx);
    std::FILE * out = std::fopen(out_path, "wb");
    if (!out) return fail(std::string("cannot write ") + out_path);
    const size_t count = n_tokens * static_cast<size_t>(width);
    if (std::fwrite(embd, sizeof(float), count, out) != count) return fail("short write");
    std::fclose(out);
    std::printf("{\"tokens\":%zu,\"width\":%d,\"nx\":%u,\"ny\":%u}\n", n_tokens, width, nx, ny);

    mtmd_input_chunks_free(chunks);
    mtmd_bitmap_free(bitmap);
    mtmd_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
