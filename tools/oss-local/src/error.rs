//! OSS error responses: the code, HTTP status and message of each error the server
//! returns, and their XML form.

/// An error the server answers with: `status` and `code` as OSS would send them, a
/// message, and extra elements (`StringToSign`, `Key`, `BucketName`...) for the XML body.
#[derive(Debug, Clone)]
pub struct OssError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// Extra `<Name>value</Name>` elements of the body, in order.
    pub extra: Vec<(&'static str, String)>,
    /// The `EC` diagnostic code (also sent as the `x-oss-ec` header), when one is documented.
    pub ec: Option<&'static str>,
}

impl OssError {
    /// An error with `status`, OSS `code` and `message`, without extras.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> OssError {
        OssError {
            status,
            code,
            message: message.into(),
            extra: Vec::new(),
            ec: None,
        }
    }

    /// Adds an extra `<name>value</name>` element to the body.
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> OssError {
        self.extra.push((name, value.into()));
        self
    }

    /// Sets the `EC` diagnostic code.
    pub fn with_ec(mut self, ec: &'static str) -> OssError {
        self.ec = Some(ec);
        self
    }

    /// 403 `AccessDenied`.
    pub fn access_denied(message: impl Into<String>) -> OssError {
        OssError::new(403, "AccessDenied", message)
    }

    /// 400 `InvalidArgument`.
    pub fn invalid_argument(message: impl Into<String>) -> OssError {
        OssError::new(400, "InvalidArgument", message)
    }

    /// 404 `NoSuchBucket`.
    pub fn no_such_bucket(bucket: &str) -> OssError {
        OssError::new(404, "NoSuchBucket", "The specified bucket does not exist.")
            .with("BucketName", bucket)
    }

    /// 404 `NoSuchKey`.
    pub fn no_such_key(key: &str) -> OssError {
        OssError::new(404, "NoSuchKey", "The specified key does not exist.").with("Key", key)
    }

    /// Replaces the message, keeping code, status and extras.
    pub fn with_message(mut self, message: impl Into<String>) -> OssError {
        self.message = message.into();
        self
    }

    /// 400 `InvalidObjectName`.
    pub fn invalid_object_name(key: &str) -> OssError {
        OssError::new(
            400,
            "InvalidObjectName",
            "The specified object name is not valid.",
        )
        .with("ObjectName", key)
    }

    /// 416 `InvalidRange`.
    pub fn invalid_range() -> OssError {
        OssError::new(
            416,
            "InvalidRange",
            "The requested range cannot be satisfied.",
        )
    }

    /// 412 `PreconditionFailed`, naming the condition header that failed.
    pub fn precondition_failed(condition: &'static str) -> OssError {
        OssError::new(
            412,
            "PreconditionFailed",
            "At least one of the preconditions you specified did not hold.",
        )
        .with("Condition", condition)
    }

    /// 500 `InternalError`.
    pub fn internal(message: impl Into<String>) -> OssError {
        OssError::new(500, "InternalError", message)
    }

    /// 501 `NotImplemented`.
    pub fn not_implemented(what: impl Into<String>) -> OssError {
        OssError::new(501, "NotImplemented", what)
    }

    /// 405 `MethodNotAllowed`.
    pub fn method_not_allowed(method: &str) -> OssError {
        OssError::new(
            405,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
        )
        .with("Method", method)
    }
}
