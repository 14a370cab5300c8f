//! The Huawei VRP NetStream configuration language (work in progress: see issue 6).
