# Day and month in the genitive (“30 листопада”); every other format is Django's.
MONTH_DAY_FORMAT = "j E"
