"""The language layer: offline encoder, embeddings, similarity, keywords, model versions, adaptation."""
