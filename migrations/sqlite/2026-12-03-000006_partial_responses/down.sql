DROP TABLE partial_responses;
