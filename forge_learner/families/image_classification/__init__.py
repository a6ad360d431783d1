"""Image classification: the family of pipelines that sort labelled images into classes.

A pipeline of this family says where its images come from (``load_images``, and
``load_test_images`` when the source ships its own test split) and which network reads them
(``create_model``). Everything a reader of the report should be able to trust is done here, the
same way for every image classifier:

- a stratified split by ``config.seed``, so each class keeps its share in every part and a rare
  class cannot vanish from the test set;
- per-channel normalisation fitted on the training images only: test images are treated
  exactly as new images will be;
- cross-entropy training with the accuracy logged each epoch;
- evaluation on the test images: the loss, accuracy and macro/weighted precision, recall and
  F1 beside two baselines the network must beat (the majority class, and the nearest class
  mean, an honest linear-time classifier on the same normalised pixels), with per-class
  scores, the confusion matrix and the most confident mistakes in ``Evaluation.details``;
- a reference model, a logistic regression on the same pixels, shown beside them;
- report sections: per-class scores, the confusion matrix plot, the mistakes plot, and how to
  reuse the model (``normalizer.json`` beside ``model.npz``).
"""

from .pipeline import ImageClassificationPipeline
from .preparation import ImageClassificationConfig, ImageConfigT, ImageData, image_data
from .report import NORMALIZER_NAME

__all__ = [
    "NORMALIZER_NAME",
    "ImageClassificationConfig",
    "ImageClassificationPipeline",
    "ImageConfigT",
    "ImageData",
    "image_data",
]
