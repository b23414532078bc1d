# Day and month in the genitive (“30 ноября”, not “30 Ноябрь”); every other format is Django's.
MONTH_DAY_FORMAT = "j E"
