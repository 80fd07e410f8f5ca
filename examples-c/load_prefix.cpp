// load_prefix: the C++ version of load_model, on the RAII wrappers of ossmc.hpp. Lists
// everything under a prefix, opens it all (the prefetch order), then reads each object into
// memory and prints "KEY SIZE sum CHECKSUM" (the checksum of load_model.c) per object.
//
//   load_prefix ENDPOINT BUCKET PREFIX [CONFIG_PATH]   (credentials from OSS_ACCESS_KEY_ID/_SECRET)
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <vector>

#include "ossmc.hpp"

namespace {

// Order-sensitive checksum of a whole object (see load_model.c).
uint64_t checksum(const std::vector<unsigned char> &data) {
    uint64_t sum = 0;
    for (size_t i = 0; i < data.size(); i += 8) {
        uint64_t w = 0;
        for (size_t b = 0; b < 8 && i + b < data.size(); b++) w |= uint64_t(data[i + b]) << (8 * b);
        sum += w * (2 * (i / 8) + 1);
    }
    return sum;
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 4 && argc != 5) {
        std::fprintf(stderr, "usage: load_prefix ENDPOINT BUCKET PREFIX [CONFIG_PATH]\n");
        return 2;
    }
    try {
        ossmc::Connector conn(argv[1], nullptr, argc == 5 ? argv[4] : nullptr);
        std::vector<ossmc::ObjectInfo> infos = conn.list(argv[2], argv[3]);
        std::vector<ossmc::Object> objects;
        objects.reserve(infos.size());
        for (const auto &info : infos) {
            objects.push_back(conn.open("oss://" + std::string(argv[2]) + "/" + info.key));
        }
        for (size_t i = 0; i < objects.size(); i++) {
            std::vector<unsigned char> data(objects[i].size());
            size_t done = 0;
            while (done < data.size()) {
                size_t n = objects[i].read(data.data() + done, std::min<size_t>(data.size() - done, 4u << 20));
                if (n == 0) break;
                done += n;
            }
            data.resize(done);
            std::printf("%s %zu sum %016" PRIx64 "\n", infos[i].key.c_str(), done, checksum(data));
        }
    } catch (const ossmc::Error &e) {
        std::fprintf(stderr, "load_prefix: %s (%s)\n", e.what(), e.status_name());
        return 1;
    }
    return 0;
}
