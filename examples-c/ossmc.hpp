// RAII wrappers over the ossmc C API for C++17: each handle is owned by exactly one object
// and freed by its destructor; failures throw ossmc::Error carrying the status and the
// last-error detail. Header-only: include it and link -lossmc.
#ifndef OSSMC_HPP
#define OSSMC_HPP

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "ossmc.h"

namespace ossmc {

// A failed ossmc call: what() is the library's message; the fields are its OSS detail.
class Error : public std::runtime_error {
  public:
    Error(int32_t status, const ossmc_error_detail &d)
        : std::runtime_error(d.message_len ? std::string(d.message, d.message_len)
                                           : std::string(ossmc_status_name(status))),
          status_(status), http_status_(d.http_status), oss_code_(d.oss_code, d.oss_code_len),
          request_id_(d.request_id, d.request_id_len) {}

    int32_t status() const noexcept { return status_; }
    const char *status_name() const noexcept { return ossmc_status_name(status_); }
    int http_status() const noexcept { return http_status_; }
    const std::string &oss_code() const noexcept { return oss_code_; }
    const std::string &request_id() const noexcept { return request_id_; }

  private:
    int32_t status_;
    int http_status_;
    std::string oss_code_, request_id_;
};

// Throws the thread's last error when `status` is a failure.
inline void check(int32_t status) {
    if (status == OSSMC_OK) return;
    ossmc_error_detail d{};
    ossmc_last_error(&d);
    throw Error(status, d);
}

namespace detail {
struct ConnectorFree {
    void operator()(ossmc_connector *p) const noexcept { ossmc_connector_free(p); }
};
struct ListFree {
    void operator()(ossmc_listing *p) const noexcept { ossmc_list_free(p); }
};
struct ObjectClose {
    void operator()(ossmc_object *p) const noexcept { ossmc_close(p); }
};
}  // namespace detail

// One entry of a listing.
struct ObjectInfo {
    std::string key;
    uint64_t size;
};

// An open object; movable, not copyable; use from one thread at a time.
class Object {
  public:
    explicit Object(ossmc_object *handle) : h_(handle) {}

    // Reads up to `len` bytes at the current position; returns 0 only at the end.
    size_t read(void *buf, size_t len) {
        size_t n = 0;
        check(ossmc_read(h_.get(), buf, len, &n));
        return n;
    }
    // Reads up to `len` bytes at `offset` without moving the position.
    size_t read_at(uint64_t offset, void *buf, size_t len) {
        size_t n = 0;
        check(ossmc_read_at(h_.get(), offset, buf, len, &n));
        return n;
    }
    uint64_t seek(int64_t offset, int32_t whence = OSSMC_SEEK_SET) {
        uint64_t pos = 0;
        check(ossmc_seek(h_.get(), offset, whence, &pos));
        return pos;
    }
    uint64_t tell() const {
        uint64_t pos = 0;
        check(ossmc_tell(h_.get(), &pos));
        return pos;
    }
    uint64_t size() const {
        uint64_t size = 0;
        check(ossmc_size(h_.get(), &size));
        return size;
    }

  private:
    std::unique_ptr<ossmc_object, detail::ObjectClose> h_;
};

// A connector; movable, not copyable; its methods may be called from many threads at once.
class Connector {
  public:
    // cred_path/config_path may be nullptr: environment credentials, default configuration.
    explicit Connector(const char *endpoint, const char *cred_path = nullptr,
                       const char *config_path = nullptr) {
        ossmc_connector *p = nullptr;
        check(ossmc_connector_new(endpoint, cred_path, config_path, &p));
        h_.reset(p);
    }

    std::vector<ObjectInfo> list(const std::string &bucket, const std::string &prefix,
                                 bool fast = false) const {
        ossmc_listing *raw = nullptr;
        check(ossmc_list(h_.get(), bucket.c_str(), prefix.c_str(), fast ? 1 : 0, &raw));
        std::unique_ptr<ossmc_listing, detail::ListFree> list(raw);
        size_t len = 0;
        check(ossmc_list_len(list.get(), &len));
        std::vector<ObjectInfo> out;
        out.reserve(len);
        for (size_t i = 0; i < len; i++) {
            const char *key = nullptr;
            size_t key_len = 0;
            uint64_t size = 0;
            check(ossmc_list_get(list.get(), i, &key, &key_len, &size));
            out.push_back(ObjectInfo{std::string(key, key_len), size});
        }
        return out;
    }

    Object open(const std::string &uri) const {
        ossmc_object *p = nullptr;
        check(ossmc_open(h_.get(), uri.c_str(), &p));
        return Object(p);
    }

  private:
    std::unique_ptr<ossmc_connector, detail::ConnectorFree> h_;
};

}  // namespace ossmc

#endif
