// Merged into @jupyter/builder's config. Module ids by order of appearance instead of hashes of
// module names: the container entry's name holds the absolute path of this folder, so hashed
// ids (and every file name) would depend on where the repository is cloned.
module.exports = {
  optimization: { moduleIds: 'natural' }
};
