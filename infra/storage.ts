// The export bucket: the off-cluster copy of every KOTS snapshot.
export const exportBucket = new sst.aws.Bucket("Exports", {
  versioning: true,
});
