//! Downloads (数据获取) of a resource's loaded data as files.
